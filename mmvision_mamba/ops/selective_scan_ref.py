"""Readable reference of the selective scan (mamba_ssm semantics), used as ground truth."""
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the recurrence runs in: float64 stays float64, anything narrower runs in float32."""
    return torch.promote_types(dtype, torch.float32)


def expand_bc(bc: Tensor, dim: int, length: int) -> Tensor:
    """Brings B or C to (batch, dim, N, L) or (dim, N, 1) broadcastable form.

    Args:
        bc: (dim, N) time-invariant, (batch, N, L) shared by all channels,
            or (batch, G, N, L) shared within each of G channel groups.
    """
    if bc.dim() == 2:
        return bc[None, :, :, None]
    if bc.dim() == 3:
        return bc[:, None]
    return bc.repeat_interleave(dim // bc.shape[1], dim=1)


def selective_scan_ref(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Optional[Tensor] = None,
    z: Optional[Tensor] = None,
    delta_bias: Optional[Tensor] = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Selective scan, one step at a time.

    h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t;  y_t = <C_t, h_t> + D * u_t;
    out = y * silu(z) when z is given.

    Args:
        u: (batch, dim, L) input.
        delta: (batch, dim, L) time steps (before bias and softplus).
        A: (dim, N) real state matrix (diagonal per channel).
        B: (dim, N), (batch, N, L) or (batch, G, N, L).
        C: same layouts as B.
        D: (dim,) skip connection.
        z: (batch, dim, L) gate.
        delta_bias: (dim,) added to delta before softplus.
        delta_softplus: apply softplus to delta.
        return_last_state: also return h_L, (batch, dim, N).

    Returns:
        (batch, dim, L) in u's dtype, and h_L in the compute dtype if requested.
    """
    dtype_in = u.dtype
    ct = compute_dtype(dtype_in)
    u, delta, A = u.to(ct), delta.to(ct), A.to(ct)
    batch, dim, length = u.shape
    if delta_bias is not None:
        delta = delta + delta_bias.to(ct)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    B = expand_bc(B.to(ct), dim, length)
    C = expand_bc(C.to(ct), dim, length)

    # time-major copies, so that each step reads contiguous (batch, dim, N) slices and autograd
    # stacks the per-step gradients once (indexing [..., t] would cost O(L^2) in backward)
    delta_a = torch.exp(delta[:, :, None, :] * A[None, :, :, None]).permute(3, 0, 1, 2).contiguous()
    delta_b_u = ((delta * u)[:, :, None, :] * B).permute(3, 0, 1, 2).contiguous()
    C = C.expand(batch, dim, -1, length).permute(3, 0, 1, 2)
    h = u.new_zeros(batch, dim, A.shape[1])
    ys = []
    for a_t, bu_t, c_t in zip(delta_a.unbind(0), delta_b_u.unbind(0), C.unbind(0)):
        h = a_t * h + bu_t
        ys.append((h * c_t).sum(-1))
    y = torch.stack(ys, dim=-1) if ys else u.new_zeros(batch, dim, 0)
    if D is not None:
        y = y + u * D.to(ct)[:, None]
    if z is not None:
        y = y * F.silu(z.to(ct))
    y = y.to(dtype_in)
    return (y, h) if return_last_state else y
