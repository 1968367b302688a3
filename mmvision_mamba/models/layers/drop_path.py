"""Stochastic depth (drop path) on residual branches."""
from torch import Tensor, nn


class DropPath(nn.Module):
    """Zeroes whole samples of a residual branch with probability `drop_prob` in training, and
    rescales the kept ones by 1 / (1 - drop_prob); identity in eval."""

    def __init__(self, drop_prob: float = 0.):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.drop_prob == 0.:
            return x
        keep = 1. - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'
