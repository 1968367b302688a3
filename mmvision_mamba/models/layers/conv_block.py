"""Residual convolution block of levels 0 and 1."""
from typing import Optional

import torch
from torch import Tensor, nn

from .drop_path import DropPath


class ConvBlock(nn.Module):
    """conv3x3 -> BN -> GELU(tanh) -> conv3x3 -> BN -> [layer scale] -> residual.

    Args:
        dim: channels C of the (B, C, H, W) input and output.
        drop_path: stochastic-depth probability of the residual branch.
        layer_scale: initial per-channel scale, or None for no scale.
    """

    def __init__(self, dim: int, drop_path: float = 0., layer_scale: Optional[float] = None):
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1)
        self.norm1 = nn.BatchNorm2d(dim, eps=1e-5)
        self.act1 = nn.GELU(approximate='tanh')
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1)
        self.norm2 = nn.BatchNorm2d(dim, eps=1e-5)
        self.gamma = None if layer_scale is None else nn.Parameter(torch.full((dim,), float(layer_scale)))
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        if self.gamma is not None:
            y = y * self.gamma.view(1, -1, 1, 1)
        return x + self.drop_path(y)
