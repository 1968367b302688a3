"""The one generator of selective-scan inputs, for the tests, the self-checks, gpu_check and the AOT sweep (torch only).

Values are drawn in float64 on the CPU from a seeded generator, in the model's ranges (A = -exp(N(0, 1)), delta around
softplus^-1 of 0.01..0.1), always in the same order, so that a tensor's values depend only on the seed and the sizes:
not on the dtype, the device, the layout or which optional inputs are present.
"""
import math
from typing import Dict, Optional, Union

import torch
from torch import Tensor

#: the scan's tensor arguments, in `selective_scan`'s order
SCAN_ARGS = ('u', 'delta', 'A', 'B', 'C', 'D', 'z', 'delta_bias')
#: the arguments that are activations (the rest, A, D and delta_bias, are parameters)
ACTIVATIONS = ('u', 'delta', 'B', 'C', 'z')
#: tensor layouts: 'contiguous' (batch, dim, L) and (batch, [G,] N, L); 'transposed' u, delta, z, B and C as
#: transposes of (batch, L, .); 'mixer' as MambaVisionMixer passes them (delta a transpose of dt_proj's (batch, L,
#: dim), B and C slices of x_proj's (batch, L, dt_rank + 2N), transposed); 'mixer-causal-conv' the same with u
#: cropped from causal-conv1d's (batch, dim, L + 1) output (one step in)
LAYOUTS = ('contiguous', 'transposed', 'mixer', 'mixer-causal-conv')
ScanInputs = Dict[str, Optional[Tensor]]


def mixer_x_proj_width(dim: int, n_state: int) -> int:
    """Width of the mixer's x_proj output, dt_rank + 2N, for a scan over `dim` channels (half the mixer's width)."""
    return math.ceil(2 * dim / 16) + 2 * n_state


def scan_inputs(batch: int = 2, dim: int = 8, n_state: int = 8, length: int = 33, *,
                dtype: torch.dtype = torch.float64, param_dtype: Optional[torch.dtype] = None,
                device: Union[str, torch.device] = 'cpu', groups: Optional[int] = None,
                c_groups: Optional[int] = None, D: bool = True, z: bool = True, delta_bias: bool = True,
                layout: str = 'contiguous', delta_shift: float = 0.0, positive_delta: bool = False,
                seed: int = 0) -> ScanInputs:
    """Inputs of one selective scan: a dict of `SCAN_ARGS` (None for absent optional inputs).

    Args:
        batch, dim, n_state, length: u is (batch, dim, length), A (dim, n_state).
        dtype: of the activations (`ACTIVATIONS`).
        param_dtype: of A, D and delta_bias; default `dtype` (float32 with half `dtype` is autocast's mix).
        device: where the tensors live; 'meta' gives empty tensors with the layout's shapes and strides.
        groups, c_groups: B as (batch, groups, N, L), C as (batch, c_groups or groups, N, L); None: (batch, N, L).
        D, z, delta_bias: whether these optional inputs are present.
        layout: one of `LAYOUTS` (the 'mixer' ones take no groups and no z).
        delta_shift: added to delta (e.g. 23 to reach softplus' x > 20 branch).
        positive_delta: delta = softplus(delta), for scans without delta_softplus.
        seed: of the generator.
    """
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    mixer = layout.startswith('mixer')
    if mixer and (groups or c_groups or z):
        raise ValueError(f'the {layout!r} layout has no B/C groups and no z (as MambaVisionMixer calls the scan)')
    param_dtype = dtype if param_dtype is None else param_dtype
    c_groups = groups if c_groups is None else c_groups
    device = torch.device(device)
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> Tensor:
        if device.type == 'meta':  # shapes only: no values to draw
            return torch.empty(*shape, dtype=torch.float64, device=device)
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    def bc_shape(g: Optional[int]) -> tuple:
        return (batch, n_state, length) if g is None else (batch, g, n_state, length)

    values = dict(u=randn(batch, dim, length), delta=randn(batch, dim, length) - 3.0 + delta_shift,
                  A=-torch.exp(randn(dim, n_state)), B=randn(*bc_shape(groups)), C=randn(*bc_shape(c_groups)),
                  D=randn(dim), z=randn(batch, dim, length), delta_bias=randn(dim) * 0.5)
    if positive_delta:
        values['delta'] = torch.nn.functional.softplus(values['delta'])
    present = dict(D=D, z=z, delta_bias=delta_bias)
    out: ScanInputs = {}
    for name, shaped in _layout(batch, dim, n_state, length, layout, device, dtype, bc_shape(groups),
                                bc_shape(c_groups)).items():
        if not present.get(name, True):
            out[name] = None
            continue
        if shaped is None:  # a contiguous tensor
            dt = dtype if name in ACTIVATIONS else param_dtype
            shaped = torch.empty(values[name].shape, dtype=dt, device=device)
        if device.type != 'meta':
            shaped.copy_(values[name])
        out[name] = shaped
    return out


def _layout(batch: int, dim: int, n_state: int, length: int, layout: str, device: torch.device, dtype: torch.dtype,
            b_shape: tuple, c_shape: tuple) -> Dict[str, Optional[Tensor]]:
    """Empty strided tensors of the layout, by name; None where the tensor is contiguous."""
    def empty(*size: int) -> Tensor:
        return torch.empty(*size, dtype=dtype, device=device)

    shaped: Dict[str, Optional[Tensor]] = dict.fromkeys(SCAN_ARGS)
    if layout == 'transposed':
        for name in ('u', 'delta', 'z'):
            shaped[name] = empty(batch, length, dim).transpose(1, 2)
        if len(b_shape) == 3:
            shaped['B'] = empty(batch, length, n_state).transpose(1, 2)
        if len(c_shape) == 3:
            shaped['C'] = empty(batch, length, n_state).transpose(1, 2)
    elif layout.startswith('mixer'):
        shaped['delta'] = empty(batch, length, dim).transpose(1, 2)  # dt_proj's output, transposed
        width = mixer_x_proj_width(dim, n_state)
        x_dbl = empty(batch, length, width)  # x_proj's output: dt_rank | B | C
        rank = width - 2 * n_state
        shaped['B'] = x_dbl[..., rank:rank + n_state].transpose(1, 2)
        shaped['C'] = x_dbl[..., rank + n_state:].transpose(1, 2)
        if layout == 'mixer-causal-conv':  # same_conv1d_silu_causal: y[..., 1:] of (batch, dim, L + 1)
            shaped['u'] = empty(batch, dim, length + 1)[..., 1:]
    return shaped
