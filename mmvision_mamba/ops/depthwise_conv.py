"""The mixer's 'same'-padded depthwise conv + SiLU, on causal-conv1d's CUDA kernel where it applies.

A 'same' conv of odd width k = 2p + 1 equals a causal conv of the input padded with p zeros at the end, without its
first p outputs. With F.conv1d's cross-correlation, same_t = sum_j w_j x_{t+j-p} and causal_s = sum_j w_j x'_{s+j-2p}
(zeros before the start); for s = t + p, causal_{t+p} = sum_j w_j x'_{t+j-p} = same_t, where x' = x followed by p
zeros supplies the zeros 'same' pads at the end. SiLU acts per output, so it commutes with the crop.
"""
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from .optional import try_import
from .self_check import cached_check, check_same_conv

_causal_conv1d = try_import('causal_conv1d')
#: causal_conv1d_fn(x (batch, C, L), weight (C, k), bias=None, ..., activation=None|'silu'), widths 2..4
_causal_conv1d_fn = getattr(_causal_conv1d, 'causal_conv1d_fn', None)
_warned: set = set()  # devices where the failed self-check has been reported


def causal_conv1d_available() -> bool:
    """Whether causal-conv1d's `causal_conv1d_fn` imported."""
    return _causal_conv1d_fn is not None


def causal_kernel_proven(device: torch.device) -> bool:
    """Whether the causal-conv1d route passed its self-check on `device` (run on first call per process and
    device; a failure warns once, and the PyTorch conv runs instead)."""
    result = cached_check('causal_conv1d', device, lambda d: check_same_conv(same_conv1d_silu_causal, d))
    if not result.passed and str(device) not in _warned:
        _warned.add(str(device))
        warnings.warn(f'mmvision_mamba: the causal-conv1d kernel failed its self-check against F.conv1d on {device} '
                      f'({result.detail}); the mixer\'s depthwise convs use PyTorch\'s conv1d instead.',
                      RuntimeWarning, stacklevel=3)
    return result.passed


def _use_causal_kernel(x: Tensor, width: int) -> bool:
    """CUDA tensors with causal-conv1d importable and proven on their device, an odd width it supports (3), outside
    torch.compile (where inductor fuses the PyTorch path and the extension would be a graph break)."""
    return (_causal_conv1d_fn is not None and x.is_cuda and width % 2 == 1 and 2 <= width <= 4
            and not torch.compiler.is_compiling() and causal_kernel_proven(x.device))


def same_conv1d_silu_causal(x: Tensor, weight: Tensor) -> Tensor:
    """silu(same depthwise conv) through `_causal_conv1d_fn` on the input shifted by width // 2 (see module doc)."""
    width = weight.shape[-1]
    pad = width // 2
    y = _causal_conv1d_fn(F.pad(x, (0, pad)), weight.reshape(weight.shape[0], width).to(x.dtype), bias=None,
                          activation='silu')
    return y[..., pad:]


def same_conv1d_silu(x: Tensor, weight: Tensor) -> Tensor:
    """silu(depthwise conv1d(x, weight, padding=k // 2, groups=C)), no bias.

    Args:
        x: (batch, C, L).
        weight: (C, 1, k), k odd (nn.Conv1d's depthwise weight).
    """
    width = weight.shape[-1]
    if _use_causal_kernel(x, width):
        return same_conv1d_silu_causal(x, weight)
    return F.silu(F.conv1d(x, weight, padding=width // 2, groups=x.shape[1]))
