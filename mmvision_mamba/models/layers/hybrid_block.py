"""Pre-norm transformer-style block whose token mixer is either Mamba or attention."""
from typing import Optional

import torch
from torch import Tensor, nn

from .attention import Attention
from .drop_path import DropPath
from .mamba_mixer import MambaVisionMixer


class Mlp(nn.Module):
    """fc1 -> GELU -> dropout -> fc2 -> dropout on (B, N, C)."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class HybridBlock(nn.Module):
    """x + drop_path(gamma_1 * mixer(LN(x))), then x + drop_path(gamma_2 * mlp(LN(x))).

    Args:
        dim: token channels C.
        num_heads: attention heads (used when `attention`).
        attention: self-attention mixer if True, else the Mamba mixer.
        mlp_ratio: hidden width of the MLP relative to C.
        qkv_bias: bias of the attention's qkv projection.
        drop: dropout after projections.
        attn_drop: dropout on attention weights.
        drop_path: stochastic-depth probability.
        layer_scale: initial value of gamma_1/gamma_2, or None for none.
    """

    def __init__(self, dim: int, num_heads: int, attention: bool, mlp_ratio: float = 4.,
                 qkv_bias: bool = True, drop: float = 0., attn_drop: float = 0.,
                 drop_path: float = 0., layer_scale: Optional[float] = None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.mixer = (Attention(dim, num_heads, qkv_bias, attn_drop, drop) if attention
                      else MambaVisionMixer(dim))
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        if layer_scale is None:
            self.gamma_1 = self.gamma_2 = None
        else:
            self.gamma_1 = nn.Parameter(torch.full((dim,), float(layer_scale)))
            self.gamma_2 = nn.Parameter(torch.full((dim,), float(layer_scale)))

    @staticmethod
    def _scale(gamma: Optional[Tensor], x: Tensor) -> Tensor:
        return x if gamma is None else gamma * x

    def forward(self, x: Tensor) -> Tensor:
        """(B, N, C) -> (B, N, C)."""
        x = x + self.drop_path(self._scale(self.gamma_1, self.mixer(self.norm1(x))))
        return x + self.drop_path(self._scale(self.gamma_2, self.mlp(self.norm2(x))))
