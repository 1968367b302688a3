"""MambaVision's token mixer: a selective scan branch beside an SSM-free gate branch."""
import math

import torch
from torch import Tensor, nn

from mmvision_mamba.ops import selective_scan
from mmvision_mamba.ops.depthwise_conv import same_conv1d_silu


class MambaVisionMixer(nn.Module):
    """The MambaVision mixer (d_state 8, d_conv 3, expand 1), checkpoint-exact.

    in_proj splits the channels into x and z halves; each goes through a non-causal depthwise
    conv and SiLU; x is scanned with input-dependent (delta, B, C); the scan output and z are
    concatenated and projected back. As in the official network, dt_proj's bias is added twice:
    once inside dt_proj and once as the scan's delta_bias.

    Args:
        dim: token channels C (even).
        d_state: SSM state size N.
        d_conv: width of the depthwise convs (odd, 'same' padding).
    """

    def __init__(self, dim: int, d_state: int = 8, d_conv: int = 3):
        super().__init__()
        if dim % 2:
            raise ValueError(f'MambaVisionMixer needs an even width, got {dim}.')
        half = dim // 2
        self.d_state = d_state
        self.dt_rank = math.ceil(dim / 16)
        self.in_proj = nn.Linear(dim, dim, bias=False)
        self.conv1d_x = nn.Conv1d(half, half, d_conv, padding=d_conv // 2, groups=half, bias=False)
        self.conv1d_z = nn.Conv1d(half, half, d_conv, padding=d_conv // 2, groups=half, bias=False)
        self.x_proj = nn.Linear(half, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, half, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(half, 1))
        self.D = nn.Parameter(torch.ones(half))
        self.out_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, C) -> (B, L, C)."""
        x, z = self.in_proj(x).transpose(1, 2).chunk(2, dim=1)
        x = same_conv1d_silu(x, self.conv1d_x.weight)  # = silu(conv1d_x(x)); causal-conv1d kernel on CUDA
        z = same_conv1d_silu(z, self.conv1d_z.weight)
        dt, b, c = self.x_proj(x.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = self.dt_proj(dt).transpose(1, 2)
        y = selective_scan(x, dt, -torch.exp(self.A_log), b.transpose(1, 2), c.transpose(1, 2), self.D,
                           delta_bias=self.dt_proj.bias, delta_softplus=True)
        return self.out_proj(torch.cat([y, z], dim=1).transpose(1, 2))
