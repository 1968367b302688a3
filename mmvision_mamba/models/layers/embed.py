"""Stride-4 convolutional stem and the stride-2 downsample between levels."""
from torch import Tensor, nn


class PatchEmbed(nn.Module):
    """Two 3x3 stride-2 conv-BN-ReLU layers: (B, in_chans, H, W) -> (B, dim, H/4, W/4).

    The official stem also holds a `proj = nn.Identity()`; it has no weights, so the state dicts are the same.
    """

    def __init__(self, in_chans: int, in_dim: int, dim: int):
        super().__init__()
        self.conv_down = nn.Sequential(
            nn.Conv2d(in_chans, in_dim, 3, 2, 1, bias=False),
            nn.BatchNorm2d(in_dim, eps=1e-4),
            nn.ReLU(),
            nn.Conv2d(in_dim, dim, 3, 2, 1, bias=False),
            nn.BatchNorm2d(dim, eps=1e-4),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_down(x)


class Downsample(nn.Module):
    """A 3x3 stride-2 conv doubling the channels, no norm: (B, C, H, W) -> (B, 2C, H/2, W/2)."""

    def __init__(self, dim: int):
        super().__init__()
        self.reduction = nn.Sequential(nn.Conv2d(dim, 2 * dim, 3, 2, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.reduction(x)
