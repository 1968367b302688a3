"""Triton selective-scan backend (forward and backward, the state kept on chip), registered as 'triton' (CUDA;
after 'mamba_ssm' in the 'auto' order, self-checked against the reference on first use per device).

Design: one program per (batch row, block of BLOCK_D channels). It walks L in chunks of BLOCK_L steps; inside a
chunk the states of every (channel, state) row come from `tl.associative_scan` over the linear recurrence
h_t = a_t h_{t-1} + b_t (pairs combine as (a1, b1), (a2, b2) -> (a1 a2, a2 b1 + b2)), with h carried across chunks.
The forward saves only the state entering each chunk, (batch, dim, n_chunks, N); the backward walks the chunks in
reverse, recomputes a chunk's states from its saved state and scans dh_t = C_t dy_t + a_{t+1} dh_{t+1} backwards.
dB and dC, shared by the channels of a group, are reduced inside a program, written as per-block partials and summed
by torch (deterministic, no atomics); dA, dD and ddelta_bias likewise per batch row.

Numerics: the recurrence runs in float32 for half inputs and float64 for float64 inputs (as the reference);
out has u's dtype, the last state the compute dtype, each gradient its input's dtype. Softplus is
x > 20 ? x : log1p(exp(x)). Time-invariant (dim, N) B/C fall back to the reference.

Without CUDA, the kernels still run on CPU tensors under Triton's interpreter (TRITON_INTERPRET=1 set before triton
is first imported): call `selective_scan_triton` directly. The registered backend claims CUDA tensors only.
"""
import contextlib
import inspect
import os
from typing import Any, Callable, Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from .custom_op import define_scan_op
from .optional import try_import
from .selective_scan import register_backend
from .selective_scan_ref import compute_dtype, selective_scan_ref

triton = try_import('triton')
tl = try_import('triton.language') if triton is not None else None
if tl is None or not hasattr(tl, 'associative_scan'):
    triton = tl = None

#: launch parameters; `tile` bounds BLOCK_D * N_pad * BLOCK_L (the size of one on-chip state tile).
#: `reverse`: how the backward runs its reverse-time scan: 'flip' (tl.flip, forward scan, tl.flip; portable) or
#: 'native' (tl.associative_scan(reverse=True), which some Triton releases got wrong for non-commutative combines).
TUNING: Dict[str, Union[int, str]] = {
    'block_l': int(os.environ.get('MMVM_TRITON_BLOCK_L', 32)),
    'tile': int(os.environ.get('MMVM_TRITON_TILE', 2048)),
    'num_warps': int(os.environ.get('MMVM_TRITON_NUM_WARPS', 4)),
    'reverse': os.environ.get('MMVM_TRITON_REVERSE', 'flip'),
}


def triton_available() -> bool:
    """Whether triton imported (the kernels compile on first use)."""
    return triton is not None


if triton is not None:

    @triton.jit
    def _combine(a1, b1, a2, b2):
        # (a1, b1) is the earlier segment: h -> a2 (a1 h + b1) + b2
        return a1 * a2, a2 * b1 + b2

    @triton.jit
    def _softplus(x):
        # log1p(exp(x)) via the accurate log(1+e) * e / ((1+e) - 1) form; x for x > 20, as torch
        e = tl.exp(tl.minimum(x, 20.0))
        one_p = 1.0 + e
        lp = tl.where(one_p == 1.0, e, tl.log(one_p) * (e / (one_p - 1.0)))
        return tl.where(x > 20.0, x, lp)

    @triton.jit
    def _sigmoid(x):
        return 1.0 / (1.0 + tl.exp(-x))

    @triton.jit
    def _scan_rows(a, b, R: tl.constexpr, BL: tl.constexpr):
        """Inclusive forward scan along the last axis of [BD, NP, BL] tiles, done on their [R, BL] view."""
        pa, pb = tl.associative_scan((tl.reshape(a, [R, BL]), tl.reshape(b, [R, BL])), axis=1,
                                     combine_fn=_combine)
        return tl.reshape(pa, a.shape), tl.reshape(pb, b.shape)

    @triton.jit
    def _rev_scan_rows(a, b, carry, R: tl.constexpr, BL: tl.constexpr, NATIVE_REVERSE: tl.constexpr):
        """x_t = b_t + a_t x_{t+1} along the last axis of [BD, NP, BL] tiles, with x_{BL} = carry [BD, NP]."""
        a2 = tl.reshape(a, [R, BL])
        b2 = tl.reshape(b, [R, BL])
        c2 = tl.reshape(carry, [R])
        if NATIVE_REVERSE:
            pa, pb = tl.associative_scan((a2, b2), axis=1, combine_fn=_combine, reverse=True)
            x = pb + pa * c2[:, None]
        else:
            pa, pb = tl.associative_scan((tl.flip(a2, 1), tl.flip(b2, 1)), axis=1, combine_fn=_combine)
            x = tl.flip(pb + pa * c2[:, None], 1)
        return tl.reshape(x, a.shape)

    @triton.jit
    def _delta(delta_ptr, bias, off, mask, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, CT: tl.constexpr):
        """Effective time step (bias, softplus) at `off`, 0 where masked; also the pre-softplus value."""
        raw = tl.load(delta_ptr + off, mask=mask, other=0.0).to(CT)
        if HAS_BIAS:
            raw = raw + bias[:, None]
        dt = raw
        if SOFTPLUS:
            dt = _softplus(raw)
        return tl.where(mask, dt, 0.0), raw

    # sizes and batch/channel strides are not specialised (fewer compiles across shapes); the L-strides are, so
    # that stride-1 (contiguous) loads vectorise, but not on their divisibility by 16, which vectorises nothing at
    # other strides (fewer compiles across model widths; the option exists from Triton 3.2)
    _NO_SPEC = ['dim', 'L', 'N', 'n_chunks', 'dpg_B', 'dpg_C', 'n_blocks', 's_ob', 's_od', 's_ub', 's_ud', 's_db',
                's_dd', 's_zb', 's_zd', 's_Ad', 's_Bb', 's_Bg', 's_Bn', 's_Cb', 's_Cg', 's_Cn']
    _L_STRIDES = ['s_ol', 's_ul', 's_dl', 's_zl', 's_Bl', 's_Cl']
    _NO_ALIGN = ({'do_not_specialize_on_alignment': _L_STRIDES}
                 if 'do_not_specialize_on_alignment' in inspect.signature(triton.jit).parameters else {})

    @triton.jit(do_not_specialize=[n for n in _NO_SPEC if n not in ('n_blocks', 's_ob', 's_od')], **_NO_ALIGN)
    def fwd_kernel(u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr,
                    out_ptr, last_ptr, ckpt_ptr,
                    dim, L, N, n_chunks, dpg_B, dpg_C,
                    s_ub, s_ud, s_ul, s_db, s_dd, s_dl, s_zb, s_zd, s_zl, s_Ad, s_An,
                    s_Bb, s_Bg, s_Bn, s_Bl, s_Cb, s_Cg, s_Cn, s_Cl, s_D, s_bias,
                    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
                    BD: tl.constexpr, NP: tl.constexpr, BL: tl.constexpr, CT: tl.constexpr):
        pid_b = tl.program_id(0).to(tl.int64)
        pid_d = tl.program_id(1)
        d = pid_d * BD + tl.arange(0, BD)
        n = tl.arange(0, NP)
        tt = tl.arange(0, BL)
        dmask = d < dim
        nmask = n < N
        g_b = (pid_d * BD) // dpg_B
        g_c = (pid_d * BD) // dpg_C

        A = tl.load(A_ptr + d[:, None] * s_Ad + n[None, :] * s_An, mask=dmask[:, None] & nmask[None, :],
                    other=0.0).to(CT)
        bias = tl.zeros([BD], dtype=CT)
        if HAS_BIAS:
            bias = tl.load(bias_ptr + d * s_bias, mask=dmask, other=0.0).to(CT)
        Dv = tl.zeros([BD], dtype=CT)
        if HAS_D:
            Dv = tl.load(D_ptr + d * s_D, mask=dmask, other=0.0).to(CT)
        h = tl.zeros([BD, NP], dtype=CT)
        mask_dn = dmask[:, None] & nmask[None, :]
        for c in range(0, n_chunks):
            t = c * BL + tt
            tmask = t < L
            m2 = dmask[:, None] & tmask[None, :]
            tl.store(ckpt_ptr + ((pid_b * dim + d[:, None]) * n_chunks + c) * N + n[None, :], h, mask=mask_dn)
            u = tl.load(u_ptr + pid_b * s_ub + d[:, None] * s_ud + t[None, :] * s_ul, mask=m2, other=0.0).to(CT)
            dt, _ = _delta(delta_ptr, bias, pid_b * s_db + d[:, None] * s_dd + t[None, :] * s_dl, m2,
                           HAS_BIAS, SOFTPLUS, CT)
            mnt = nmask[:, None] & tmask[None, :]
            Bt = tl.load(B_ptr + pid_b * s_Bb + g_b * s_Bg + n[:, None] * s_Bn + t[None, :] * s_Bl, mask=mnt,
                         other=0.0).to(CT)
            Ct = tl.load(C_ptr + pid_b * s_Cb + g_c * s_Cg + n[:, None] * s_Cn + t[None, :] * s_Cl, mask=mnt,
                         other=0.0).to(CT)
            a = tl.exp(dt[:, None, :] * A[:, :, None])
            b = (dt * u)[:, None, :] * Bt[None, :, :]
            pa, pb = _scan_rows(a, b, BD * NP, BL)
            hs = pa * h[:, :, None] + pb
            y = tl.sum(hs * Ct[None, :, :], axis=1)
            if HAS_D:
                y = y + u * Dv[:, None]
            if HAS_Z:
                z = tl.load(z_ptr + pid_b * s_zb + d[:, None] * s_zd + t[None, :] * s_zl, mask=m2,
                            other=0.0).to(CT)
                y = y * z * _sigmoid(z)
            tl.store(out_ptr + (pid_b * dim + d[:, None]) * L + t[None, :], y, mask=m2)
            h = tl.sum(tl.where((tt == BL - 1)[None, None, :], hs, 0.0), axis=2)
            # the last state is stored in the last chunk: stored after the loop, its address stayed live across
            # the loop and ptxas spilled it on some targets (see analysis/triton_aot.py)
            if c == n_chunks - 1:
                tl.store(last_ptr + (pid_b * dim + d[:, None]) * N + n[None, :], h, mask=mask_dn)

    @triton.jit(do_not_specialize=_NO_SPEC, **_NO_ALIGN)
    def bwd_kernel(dout_ptr, u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, ckpt_ptr, dlast_ptr,
                    du_ptr, ddelta_ptr, dz_ptr, dA_ptr, dD_ptr, dbias_ptr, dB_ptr, dC_ptr,
                    dim, L, N, n_chunks, dpg_B, dpg_C, n_blocks,
                    s_ob, s_od, s_ol, s_ub, s_ud, s_ul, s_db, s_dd, s_dl, s_zb, s_zd, s_zl, s_Ad, s_An,
                    s_Bb, s_Bg, s_Bn, s_Bl, s_Cb, s_Cg, s_Cn, s_Cl, s_D, s_bias,
                    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_DLAST: tl.constexpr,
                    SOFTPLUS: tl.constexpr, NATIVE_REVERSE: tl.constexpr,
                    BD: tl.constexpr, NP: tl.constexpr, BL: tl.constexpr, CT: tl.constexpr):
        pid_b = tl.program_id(0).to(tl.int64)
        pid_d = tl.program_id(1)
        d = pid_d * BD + tl.arange(0, BD)
        n = tl.arange(0, NP)
        tt = tl.arange(0, BL)
        dmask = d < dim
        nmask = n < N
        mask_dn = dmask[:, None] & nmask[None, :]
        g_b = (pid_d * BD) // dpg_B
        g_c = (pid_d * BD) // dpg_C

        A = tl.load(A_ptr + d[:, None] * s_Ad + n[None, :] * s_An, mask=mask_dn, other=0.0).to(CT)
        bias = tl.zeros([BD], dtype=CT)
        if HAS_BIAS:
            bias = tl.load(bias_ptr + d * s_bias, mask=dmask, other=0.0).to(CT)
        Dv = tl.zeros([BD], dtype=CT)
        if HAS_D:
            Dv = tl.load(D_ptr + d * s_D, mask=dmask, other=0.0).to(CT)
        dlast = tl.zeros([BD, NP], dtype=CT)
        if HAS_DLAST:
            dlast = tl.load(dlast_ptr + (pid_b * dim + d[:, None]) * N + n[None, :], mask=mask_dn,
                            other=0.0).to(CT)
        carry = tl.zeros([BD, NP], dtype=CT)  # dh at the first step of the chunk after this one
        dA_acc = tl.zeros([BD, NP], dtype=CT)
        dD_acc = tl.zeros([BD], dtype=CT)
        dbias_acc = tl.zeros([BD], dtype=CT)
        for i in range(0, n_chunks):
            c = n_chunks - 1 - i
            t = c * BL + tt
            tmask = t < L
            m2 = dmask[:, None] & tmask[None, :]
            mnt = nmask[:, None] & tmask[None, :]
            h_in = tl.load(ckpt_ptr + ((pid_b * dim + d[:, None]) * n_chunks + c) * N + n[None, :], mask=mask_dn,
                           other=0.0).to(CT)
            u = tl.load(u_ptr + pid_b * s_ub + d[:, None] * s_ud + t[None, :] * s_ul, mask=m2, other=0.0).to(CT)
            dt, raw = _delta(delta_ptr, bias, pid_b * s_db + d[:, None] * s_dd + t[None, :] * s_dl, m2,
                             HAS_BIAS, SOFTPLUS, CT)
            # time step of t + 1, for the decay a_{t+1} that carries dh_{t+1} back to dh_t
            m2n = dmask[:, None] & (t + 1 < L)[None, :]
            dt_next, _ = _delta(delta_ptr, bias, pid_b * s_db + d[:, None] * s_dd + (t + 1)[None, :] * s_dl, m2n,
                                HAS_BIAS, SOFTPLUS, CT)
            Bt = tl.load(B_ptr + pid_b * s_Bb + g_b * s_Bg + n[:, None] * s_Bn + t[None, :] * s_Bl, mask=mnt,
                         other=0.0).to(CT)
            Ct = tl.load(C_ptr + pid_b * s_Cb + g_c * s_Cg + n[:, None] * s_Cn + t[None, :] * s_Cl, mask=mnt,
                         other=0.0).to(CT)
            dout = tl.load(dout_ptr + pid_b * s_ob + d[:, None] * s_od + t[None, :] * s_ol, mask=m2,
                           other=0.0).to(CT)

            # recompute the chunk's states from the state entering it
            a = tl.exp(dt[:, None, :] * A[:, :, None])
            dtu = dt * u
            b = dtu[:, None, :] * Bt[None, :, :]
            pa, pb = _scan_rows(a, b, BD * NP, BL)
            hs = pa * h_in[:, :, None] + pb

            dy = dout
            if HAS_Z:
                z = tl.load(z_ptr + pid_b * s_zb + d[:, None] * s_zd + t[None, :] * s_zl, mask=m2,
                            other=0.0).to(CT)
                sz = _sigmoid(z)
                y = tl.sum(hs * Ct[None, :, :], axis=1)
                if HAS_D:
                    y = y + u * Dv[:, None]
                dz = dout * y * sz * (1.0 + z * (1.0 - sz))
                tl.store(dz_ptr + (pid_b * dim + d[:, None]) * L + t[None, :], dz, mask=m2)
                dy = dout * z * sz

            # reverse scan: dh_t = C_t dy_t (+ dlast at t = L-1) + a_{t+1} dh_{t+1}
            g = Ct[None, :, :] * dy[:, None, :]
            if HAS_DLAST:
                g = tl.where((t == L - 1)[None, None, :], g + dlast[:, :, None], g)
            alpha = tl.exp(dt_next[:, None, :] * A[:, :, None])
            dh = _rev_scan_rows(alpha, g, carry, BD * NP, BL, NATIVE_REVERSE)
            carry = tl.sum(tl.where((tt == 0)[None, None, :], dh, 0.0), axis=2)

            hprev_a = hs - b  # a_t h_{t-1}
            dA_acc += tl.sum(dh * hprev_a * dt[:, None, :], axis=2)
            ddt = tl.sum(dh * (hprev_a * A[:, :, None] + Bt[None, :, :] * u[:, None, :]), axis=1)
            du = tl.sum(dh * Bt[None, :, :], axis=1) * dt
            if HAS_D:
                du += dy * Dv[:, None]
                dD_acc += tl.sum(dy * u, axis=1)
            if SOFTPLUS:
                ddt = ddt * tl.where(raw > 20.0, 1.0, _sigmoid(raw))
            ddt = tl.where(m2, ddt, 0.0)
            if HAS_BIAS:
                dbias_acc += tl.sum(ddt, axis=1)
            tl.store(du_ptr + (pid_b * dim + d[:, None]) * L + t[None, :], du, mask=m2)
            tl.store(ddelta_ptr + (pid_b * dim + d[:, None]) * L + t[None, :], ddt, mask=m2)
            dB = tl.sum(dh * dtu[:, None, :], axis=0)
            dC = tl.sum(hs * dy[:, None, :], axis=0)
            part = ((pid_b * n_blocks + pid_d) * N + n[:, None]) * L + t[None, :]
            tl.store(dB_ptr + part, dB, mask=mnt)
            tl.store(dC_ptr + part, dC, mask=mnt)
        tl.store(dA_ptr + (pid_b * dim + d[:, None]) * N + n[None, :], dA_acc, mask=mask_dn)
        if HAS_D:
            tl.store(dD_ptr + pid_b * dim + d, dD_acc, mask=dmask)
        if HAS_BIAS:
            tl.store(dbias_ptr + pid_b * dim + d, dbias_acc, mask=dmask)


def _pow2(x: int) -> int:
    return 1 << max(0, (int(x) - 1).bit_length())


def _as_4d(bc: Tensor) -> Tensor:
    return bc.unsqueeze(1) if bc.dim() == 3 else bc


def _config(dim: int, n_state: int, groups_b: int, groups_c: int, chunk_len: int) -> Tuple[int, int]:
    """(BLOCK_D, N_pad): channel blocks never straddle a B or C group, and the tile stays within TUNING['tile']."""
    n_pad = max(2, _pow2(n_state))
    block_d = max(1, int(TUNING['tile']) // (n_pad * chunk_len))
    block_d = 1 << (block_d.bit_length() - 1)  # power of two
    block_d = min(block_d, max(1, _pow2(dim)))
    for groups in (groups_b, groups_c):
        if groups > 1:
            per_group = dim // groups
            while per_group % block_d:
                block_d //= 2
    return block_d, n_pad


def chunk_len() -> int:
    """Steps per chunk: TUNING['block_l'] (a power of two >= 16), independent of L so that torch.compile does not
    specialise on the sequence length."""
    return max(16, _pow2(int(TUNING['block_l'])))


def _on_device(t: Tensor):
    """Launches on the tensors' GPU (Triton uses the current device)."""
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()


#: how `launch_fwd` / `launch_bwd` run a kernel: launcher(kernel, grid, args, kwargs). The ahead-of-time compile
#: check (mmvision_mamba/analysis/triton_aot.py) passes one that records the launch instead, on meta tensors.
Launcher = Callable[[Any, Tuple[int, ...], tuple, dict], None]


def _launch(kernel, grid: Tuple[int, ...], args: tuple, kwargs: dict) -> None:
    """Runs `kernel` on the GPU of its first argument."""
    with _on_device(args[0]):
        kernel[grid](*args, **kwargs)


def _tl_dtype(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _check(u: Tensor, A: Tensor, B: Tensor, C: Tensor) -> None:
    batch, dim, _ = u.shape
    for name, bc in (('B', B), ('C', C)):
        if bc.dim() not in (3, 4) or bc.shape[0] != batch or (bc.dim() == 4 and dim % bc.shape[1]):
            raise ValueError(f'{name} must be (batch, N, L) or (batch, G, N, L) with G dividing dim; '
                             f'got {tuple(bc.shape)} for u {tuple(u.shape)}')
    if A.shape[0] != dim:
        raise ValueError(f'A must be (dim, N); got {tuple(A.shape)}')


def launch_fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor],
               z: Optional[Tensor], delta_bias: Optional[Tensor], delta_softplus: bool, chunk_len: int,
               launch: Launcher = _launch) -> Tuple[Tensor, Tensor, Tensor]:
    """The forward kernel's launch (see `selective_scan_triton_fwd`); `launch` runs or records it."""
    _check(u, A, B, C)
    batch, dim, length = u.shape
    n_state = A.shape[1]
    ct = compute_dtype(u.dtype)
    n_chunks = (length + chunk_len - 1) // chunk_len
    out = torch.empty(batch, dim, length, dtype=u.dtype, device=u.device)
    last = torch.zeros(batch, dim, n_state, dtype=ct, device=u.device)
    ckpt = torch.empty(batch, dim, n_chunks, n_state, dtype=ct, device=u.device)
    if out.numel() == 0:
        return out, last, ckpt
    B4, C4 = _as_4d(B), _as_4d(C)
    block_d, n_pad = _config(dim, n_state, B4.shape[1], C4.shape[1], chunk_len)
    zz = u if z is None else z
    grid = (batch, triton.cdiv(dim, block_d))
    args = (u, delta, A, B4, C4, u if D is None else D, zz, u if delta_bias is None else delta_bias,
            out, last, ckpt,
            dim, length, n_state, n_chunks, dim // B4.shape[1], dim // C4.shape[1],
            *u.stride(), *delta.stride(), *zz.stride(), *A.stride(), *B4.stride(), *C4.stride(),
            0 if D is None else D.stride(0), 0 if delta_bias is None else delta_bias.stride(0))
    launch(fwd_kernel, grid, args,
           dict(HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=delta_softplus,
                BD=block_d, NP=n_pad, BL=chunk_len, CT=_tl_dtype(ct), num_warps=int(TUNING['num_warps'])))
    return out, last, ckpt


def launch_bwd(dout: Tensor, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor],
               z: Optional[Tensor], delta_bias: Optional[Tensor], checkpoints: Tensor, dlast: Optional[Tensor],
               delta_softplus: bool, chunk_len: int, launch: Launcher = _launch) -> Tuple[Tensor, ...]:
    """The backward kernel's launch (see `selective_scan_triton_bwd`); `launch` runs or records it."""
    batch, dim, length = u.shape
    n_state = A.shape[1]
    ct = compute_dtype(u.dtype)
    dev = u.device
    B4, C4 = _as_4d(B), _as_4d(C)
    block_d, n_pad = _config(dim, n_state, B4.shape[1], C4.shape[1], chunk_len)
    n_blocks = triton.cdiv(dim, block_d) if triton is not None else 1
    n_chunks = checkpoints.shape[2]
    du = torch.zeros(batch, dim, length, dtype=u.dtype, device=dev)
    ddelta = torch.zeros(batch, dim, length, dtype=delta.dtype, device=dev)
    dz = torch.zeros(batch, dim, length, dtype=z.dtype, device=dev) if z is not None else u.new_empty(0)
    dA_part = torch.zeros(batch, dim, n_state, dtype=ct, device=dev)
    dD_part = torch.zeros(batch, dim, dtype=ct, device=dev)
    dbias_part = torch.zeros(batch, dim, dtype=ct, device=dev)
    dB_part = torch.zeros(batch, n_blocks, n_state, length, dtype=ct, device=dev)
    dC_part = torch.zeros(batch, n_blocks, n_state, length, dtype=ct, device=dev)
    if du.numel() and n_chunks:
        zz = u if z is None else z
        args = (dout, u, delta, A, B4, C4, u if D is None else D, zz, u if delta_bias is None else delta_bias,
                checkpoints.contiguous(), u if dlast is None else dlast.contiguous(),
                du, ddelta, dz if z is not None else du, dA_part, dD_part, dbias_part, dB_part, dC_part,
                dim, length, n_state, n_chunks, dim // B4.shape[1], dim // C4.shape[1], n_blocks,
                *dout.stride(), *u.stride(), *delta.stride(), *zz.stride(), *A.stride(), *B4.stride(), *C4.stride(),
                0 if D is None else D.stride(0), 0 if delta_bias is None else delta_bias.stride(0))
        launch(bwd_kernel, (batch, n_blocks), args,
               dict(HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None,
                    HAS_DLAST=dlast is not None, SOFTPLUS=delta_softplus,
                    NATIVE_REVERSE=TUNING['reverse'] == 'native', BD=block_d, NP=n_pad, BL=chunk_len,
                    CT=_tl_dtype(ct), num_warps=int(TUNING['num_warps'])))

    def group_sum(part: Tensor, groups: int, like: Tensor) -> Tensor:
        # blocks are contiguous within a group (block_d divides the group size when groups > 1)
        summed = part.view(batch, groups, n_blocks // groups, n_state, length).sum(2)
        return summed.reshape(like.shape).to(like.dtype)

    dB = group_sum(dB_part, B4.shape[1], B)
    dC = group_sum(dC_part, C4.shape[1], C)
    dA = dA_part.sum(0).to(A.dtype)
    dD = dD_part.sum(0).to(D.dtype) if D is not None else u.new_empty(0)
    dbias = dbias_part.sum(0).to(delta_bias.dtype) if delta_bias is not None else u.new_empty(0)
    return du, ddelta, dA, dB, dC, dD, dz, dbias


def _fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor], z: Optional[Tensor],
         delta_bias: Optional[Tensor], delta_softplus: bool, chunk_len: int) -> Tuple[Tensor, Tensor, Tensor]:
    """Selective scan forward on the Triton kernel; inputs of any float dtypes (computed as in the reference).

    Args:
        u, delta, z: (batch, dim, L). A: (dim, N). B, C: (batch, N, L) or (batch, G, N, L). D, delta_bias: (dim,).
        chunk_len: steps per chunk (a power of two >= 16).

    Returns:
        out (batch, dim, L) in u's dtype; the last state (batch, dim, N) and the state entering each chunk,
        (batch, dim, ceil(L / chunk_len), N), in the compute dtype.
    """
    return launch_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus, chunk_len)


def _fake_fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor], z: Optional[Tensor],
              delta_bias: Optional[Tensor], delta_softplus: bool, chunk_len: int) -> Tuple[Tensor, Tensor, Tensor]:
    batch, dim, length = u.shape
    n_state = A.shape[1]
    ct = compute_dtype(u.dtype)
    chunks = (length + chunk_len - 1) // chunk_len
    return (u.new_empty(batch, dim, length), u.new_empty(batch, dim, n_state, dtype=ct),
            u.new_empty(batch, dim, chunks, n_state, dtype=ct))


def _bwd(dout: Tensor, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor],
         z: Optional[Tensor], delta_bias: Optional[Tensor], checkpoints: Tensor, dlast: Optional[Tensor],
         delta_softplus: bool, chunk_len: int) -> Tuple[Tensor, ...]:
    """Gradients (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias) of the forward, each in its input's dtype; those of
    absent optional inputs are empty tensors."""
    return launch_bwd(dout, u, delta, A, B, C, D, z, delta_bias, checkpoints, dlast, delta_softplus, chunk_len)


selective_scan_triton_fwd, selective_scan_triton_bwd = define_scan_op(
    'selective_scan_triton', _fwd, _bwd, _fake_fwd, residuals=('checkpoints',), extras=('int chunk_len',))


def selective_scan_triton(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor] = None,
                          z: Optional[Tensor] = None, delta_bias: Optional[Tensor] = None,
                          delta_softplus: bool = False, return_last_state: bool = False
                          ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """`selective_scan_ref` on the Triton kernel (time-invariant (dim, N) B/C use the reference).

    Runs wherever Triton can launch: CUDA tensors, or CPU tensors under TRITON_INTERPRET=1.
    """
    if triton is None:
        raise RuntimeError('the Triton selective scan needs the `triton` package')
    if B.dim() == 2 or C.dim() == 2:
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    out, last, _ = selective_scan_triton_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                                             chunk_len())
    return (out, last) if return_last_state else out


def _supports(u: Tensor) -> bool:
    return u.is_cuda and triton is not None


# self-checked: the kernels have not been proven on every GPU and Triton release
register_backend('triton', selective_scan_triton, _supports, priority=20, device_types=('cuda',), self_check=True,
                 requires='the triton package (with tl.associative_scan)')
