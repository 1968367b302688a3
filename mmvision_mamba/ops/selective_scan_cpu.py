"""CPU selective-scan backend: the compiled kernel as torch custom ops with autograd, registered as 'cpu'."""
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from .cpu_kernel import CHUNK_LEN, kernel_available, load_kernel
from .custom_op import define_scan_op
from .selective_scan import register_backend
from .selective_scan_ref import compute_dtype, selective_scan_ref


def _fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor], z: Optional[Tensor],
         delta_bias: Optional[Tensor], delta_softplus: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """Selective scan forward; all tensors float32 or all float64.

    Args:
        u, delta, z: (batch, dim, L). A: (dim, N). B, C: (batch, N, L) or (batch, G, N, L). D, delta_bias: (dim,).

    Returns:
        out (batch, dim, L), last state (batch, dim, N) and the states at every CHUNK_LEN-th step,
        (batch, dim, ceil(L / CHUNK_LEN), N), from which the backward recomputes the others.
    """
    out, last, checkpoints = load_kernel().selective_scan_fwd(u, delta, A, B, C, D, z, delta_bias,
                                                              delta_softplus)
    return out, last, checkpoints


def _fake_fwd(u: Tensor, delta: Tensor, A: Tensor, *args) -> Tuple[Tensor, Tensor, Tensor]:
    batch, dim, length = u.shape
    n = A.shape[1]
    chunks = (length + CHUNK_LEN - 1) // CHUNK_LEN
    return u.new_empty(batch, dim, length), u.new_empty(batch, dim, n), u.new_empty(batch, dim, chunks, n)


def _bwd(dout: Tensor, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor],
         z: Optional[Tensor], delta_bias: Optional[Tensor], checkpoints: Tensor, dlast: Optional[Tensor],
         delta_softplus: bool) -> Tuple[Tensor, ...]:
    """Gradients (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias) of the forward; dout (batch, dim, L), dlast
    (batch, dim, N). The gradients of absent optional inputs are empty tensors."""
    grads = load_kernel().selective_scan_bwd(dout.contiguous(), u, delta, A, B, C, D, z, delta_bias, checkpoints,
                                             dlast, delta_softplus)
    return tuple(grads)


#: `mmvision_mamba::selective_scan_fwd` / `_bwd`, the ops that ONNX export lowers (mmvision_mamba.deployment)
selective_scan_fwd, selective_scan_bwd = define_scan_op('selective_scan', _fwd, _bwd, _fake_fwd,
                                                        residuals=('checkpoints',))


def kernel_supports(B: Tensor, C: Tensor) -> bool:
    """Whether the kernel handles these B/C layouts: (batch, N, L) or (batch, G, N, L), not (dim, N)."""
    return B.dim() in (3, 4) and C.dim() in (3, 4)


def selective_scan_cpu(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor] = None,
                       z: Optional[Tensor] = None, delta_bias: Optional[Tensor] = None,
                       delta_softplus: bool = False, return_last_state: bool = False
                       ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """`selective_scan_ref` on the compiled CPU kernel (time-invariant (dim, N) B/C use the reference).

    Half types run in float32 and float64 stays float64, as in the reference; out is in u's dtype and the
    last state, (batch, dim, N), in the compute dtype.
    """
    if not kernel_supports(B, C):
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    ct = compute_dtype(u.dtype)

    def cast(t: Optional[Tensor]) -> Optional[Tensor]:
        return None if t is None else t.to(ct)

    out, last, _ = selective_scan_fwd(cast(u), cast(delta), cast(A), cast(B), cast(C), cast(D), cast(z),
                                      cast(delta_bias), delta_softplus)
    out = out.to(u.dtype)
    return (out, last) if return_last_state else out


def _supports(u: Tensor) -> bool:
    """CPU tensors with the kernel built; under torch.export always, as tracing needs only the op's fake kernel
    and the op is what ONNX export lowers to a compact Scan (mmvision_mamba.deployment)."""
    return u.device.type == 'cpu' and (torch.compiler.is_exporting() or kernel_available())


register_backend('cpu', selective_scan_cpu, _supports, priority=30, device_types=('cpu',),
                 requires='the compiled CPU kernel (mmvision_mamba._C, or a C++ compiler to JIT-build it)')
