"""Adaptive average pooling that stays dynamic in torch.export / ONNX (for heads such as UperNet's PPM)."""
from typing import Tuple, Union

import torch
from torch import Tensor, nn


def _bins(size, out: int, like: Tensor) -> Tensor:
    """(out, size) averaging matrix of nn.AdaptiveAvgPool's bins [floor(i size / out), ceil((i + 1) size / out))."""
    i = torch.arange(out, device=like.device)
    start = i * size // out
    end = ((i + 1) * size + out - 1) // out
    idx = torch.arange(size, device=like.device)
    mask = ((idx[None, :] >= start[:, None]) & (idx[None, :] < end[:, None])).to(like.dtype)
    return mask / mask.sum(1, keepdim=True)


class ExportableAdaptiveAvgPool2d(nn.Module):
    """nn.AdaptiveAvgPool2d as two averaging matmuls built from the input's size.

    torch's decomposition of adaptive pooling fixes its gather indices at the traced size; this form keeps the
    bins an expression of the dynamic H and W (same result up to float rounding).
    """

    def __init__(self, output_size: Union[int, Tuple[int, int]]):
        super().__init__()
        self.output_size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        if any(s is None for s in self.output_size):
            raise ValueError(f'output_size {output_size} with None is not supported.')

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, *output_size)."""
        rows = _bins(x.shape[-2], self.output_size[0], x)
        cols = _bins(x.shape[-1], self.output_size[1], x)
        return torch.matmul(torch.matmul(rows, x), cols.t())


def replace_adaptive_avg_pools(module: nn.Module) -> int:
    """Swaps every nn.AdaptiveAvgPool2d in `module` (in place) for `ExportableAdaptiveAvgPool2d`; returns how many."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, nn.AdaptiveAvgPool2d):
            setattr(module, name, ExportableAdaptiveAvgPool2d(child.output_size))
            count += 1
        else:
            count += replace_adaptive_avg_pools(child)
    return count
