"""mamba-ssm's CUDA selective scan as the 'mamba_ssm' backend (first in the 'auto' order on CUDA when it imports).

Its quirks, handled here:
- u, delta, z, B, C must be contiguous along L and delta/z/variable B/C in u's dtype; A, D and delta_bias float32;
  the kernel has no float64: float64 inputs (and empty sequences) run on the reference instead;
- its extension's signature grew a trailing optional argument in some releases (prev_state / cu_seqlens):
  both forms are accepted;
- `selective_scan_fn` drops the gradient of the last state: here the backward raises if that gradient is non-zero
  instead of silently ignoring it;
- `selective_scan_fn` is an autograd.Function, a graph break under torch.compile: the extension's fwd/bwd are
  wrapped as custom ops (`mmvision_mamba::selective_scan_mamba_fwd/_bwd`) with fake kernels; if the raw extension
  is not reachable, `selective_scan_fn` is called under torch.compiler.disable.
"""
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from .custom_op import define_scan_op
from .optional import try_import
from .selective_scan import register_backend
from .selective_scan_ref import selective_scan_ref

_iface = try_import('mamba_ssm.ops.selective_scan_interface')
selective_scan_fn = getattr(_iface, 'selective_scan_fn', None)
_ext = getattr(_iface, 'selective_scan_cuda', None)
if _ext is not None and not (hasattr(_ext, 'fwd') and hasattr(_ext, 'bwd')):
    _ext = None

#: steps per saved state in mamba-ssm's kernel (`n_chunks = ceil(L / 2048)` in its selective_scan.cpp)
MAMBA_CHUNK = 2048


def mamba_available() -> bool:
    """Whether mamba_ssm's selective scan imported."""
    return selective_scan_fn is not None


def raw_extension_available() -> bool:
    """Whether mamba_ssm's raw extension (fwd / bwd) is reachable, so that the scan runs as custom ops (else through
    `selective_scan_fn`, a graph break under torch.compile)."""
    return _ext is not None


def _call(fn, *args):
    """Calls an extension function; retries with the trailing optional argument some releases added."""
    try:
        return fn(*args)
    except TypeError:  # pybind11: incompatible function arguments
        return fn(*args, None)


def _fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor], z: Optional[Tensor],
         delta_bias: Optional[Tensor], delta_softplus: bool, return_last_state: bool
         ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """mamba-ssm's forward on inputs already in its layouts and dtypes (see `prepare_inputs`).

    `return_last_state` only tells the backward whether the caller can hold the last state (and so whether its
    gradient must be checked).

    Returns:
        out (batch, dim, L) in u's dtype (gated when z is given), the last state (batch, dim, N) float32, the
        kernel's saved states x (batch, dim, ceil(L / 2048), 2N) float32, and the un-gated output the backward
        needs when z is given (else an empty tensor).
    """
    out, x, *rest = _call(_ext.fwd, u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    last = x[:, :, -1, 1::2].contiguous()
    if z is None:
        return out, last, x, u.new_empty(0)
    return rest[0], last, x, out


def _fake_fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor], z: Optional[Tensor],
              delta_bias: Optional[Tensor], delta_softplus: bool, return_last_state: bool
              ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    batch, dim, length = u.shape
    n_state = A.shape[1]
    chunks = (length + MAMBA_CHUNK - 1) // MAMBA_CHUNK
    return (u.new_empty(batch, dim, length), u.new_empty(batch, dim, n_state, dtype=torch.float32),
            u.new_empty(batch, dim, chunks, 2 * n_state, dtype=torch.float32),
            u.new_empty(0) if z is None else u.new_empty(batch, dim, length))


def _bwd(dout: Tensor, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor],
         z: Optional[Tensor], delta_bias: Optional[Tensor], x: Tensor, out: Tensor, dlast: Optional[Tensor],
         delta_softplus: bool, return_last_state: bool) -> Tuple[Tensor, ...]:
    """Gradients (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias) of the forward (empty tensors for absent inputs).
    mamba-ssm cannot back-propagate through the last state: a non-zero `dlast` raises."""
    if return_last_state and dlast is not None and bool(dlast.ne(0).any()):
        raise NotImplementedError("mamba_ssm's selective scan cannot back-propagate through the last state; "
                                  "use backend='triton' (CUDA) or 'reference'.")
    grads = _call(_ext.bwd, u, delta, A, B, C, D, z, delta_bias, dout.contiguous(), x,
                  out if z is not None else None, None, delta_softplus, False)
    du, ddelta, dA, dB, dC, dD, dbias = grads[:7]
    dz = grads[7] if z is not None else None

    def fix(g: Optional[Tensor], like: Optional[Tensor]) -> Tensor:
        return u.new_empty(0) if like is None else g.to(like.dtype).contiguous()

    return (fix(du, u), fix(ddelta, delta), fix(dA, A), fix(dB, B), fix(dC, C), fix(dD, D), fix(dz, z),
            fix(dbias, delta_bias))


selective_scan_mamba_fwd, selective_scan_mamba_bwd = define_scan_op(
    'selective_scan_mamba', _fwd, _bwd, _fake_fwd, residuals=('x', 'out'), extras=('bool return_last_state',))


def prepare_inputs(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor],
                   z: Optional[Tensor], delta_bias: Optional[Tensor]) -> tuple:
    """mamba-ssm's layouts and dtypes; the casts are differentiable, so gradients return in the callers' dtypes."""
    f32 = torch.float32

    def act(t: Tensor) -> Tensor:  # activations: u's dtype, contiguous
        return t.to(u.dtype).contiguous()

    def bc(t: Tensor) -> Tensor:  # (dim, N) weights stay float32; variable B/C as activations, (batch, G, N, L)
        if t.dim() == 2:
            return t.to(f32).contiguous()
        return act(t.unsqueeze(1) if t.dim() == 3 else t)

    return (u.contiguous(), act(delta), A.to(f32).contiguous(), bc(B), bc(C),
            None if D is None else D.to(f32).contiguous(), None if z is None else act(z),
            None if delta_bias is None else delta_bias.to(f32).contiguous())


@torch.compiler.disable
def _scan_fn_eager(*args, **kwargs):
    return selective_scan_fn(*args, **kwargs)


def selective_scan_mamba(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor] = None,
                         z: Optional[Tensor] = None, delta_bias: Optional[Tensor] = None,
                         delta_softplus: bool = False, return_last_state: bool = False
                         ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """`selective_scan_ref` on mamba-ssm's CUDA kernel (float16/bfloat16/float32; float64 runs the reference).

    out comes in u's dtype and the last state in float32, as from the reference for these dtypes.
    """
    if selective_scan_fn is None:
        raise RuntimeError('the mamba_ssm selective scan needs the `mamba_ssm` package (with its CUDA build)')
    if u.dtype == torch.float64 or u.shape[-1] == 0:
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    args = prepare_inputs(u, delta, A, B, C, D, z, delta_bias)
    if _ext is None:
        res = _scan_fn_eager(*args, delta_softplus=delta_softplus, return_last_state=return_last_state)
        if return_last_state:
            return res[0], res[1].float()
        return res
    out, last, _, _ = selective_scan_mamba_fwd(*args, delta_softplus, return_last_state)
    return (out, last) if return_last_state else out


def _supports(u: Tensor) -> bool:
    return u.is_cuda and selective_scan_fn is not None


# first in the 'auto' order on CUDA (proven kernels); still self-checked, since a wheel built for another GPU,
# CUDA or torch can import and yet compute garbage
register_backend('mamba_ssm', selective_scan_mamba, _supports, priority=10, device_types=('cuda',), self_check=True,
                 requires='the mamba_ssm package with its CUDA build')
