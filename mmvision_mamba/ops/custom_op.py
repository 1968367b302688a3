"""The custom-op glue the scan backends share: a forward and a backward torch custom op, the backward's fake kernel
and the autograd formula that connects them (so torch.compile traces each backend as two opaque ops)."""
from typing import Callable, Optional, Sequence, Tuple

import torch
from torch import Tensor

#: the scan's tensor arguments, as every forward and backward op takes them
SCAN_PARAMS = 'Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? delta_bias'
_N_INPUTS = 8


def _grad_like(u: Tensor, t: Optional[Tensor]) -> Tensor:
    """A contiguous gradient for `t` (its shape and dtype), or an empty one for an absent input."""
    return u.new_empty(0) if t is None else t.new_empty(t.shape)


def _fake_grads(dout: Tensor, u: Tensor, *args) -> Tuple[Tensor, ...]:
    return tuple(_grad_like(u, t) for t in (u, *args[:_N_INPUTS - 1]))


def define_scan_op(name: str, fwd: Callable, bwd: Callable, fake_fwd: Callable, residuals: Sequence[str],
                   extras: Sequence[str] = ()) -> Tuple[torch.library.CustomOpDef, torch.library.CustomOpDef]:
    """Defines `mmvision_mamba::{name}_fwd` and `mmvision_mamba::{name}_bwd` with autograd between them.

    The ops' arguments (the schema's types; `extras` e.g. ['int chunk_len']):

        fwd(u, delta, A, B, C, D?, z?, delta_bias?, bool delta_softplus, *extras) -> (out, last, *residuals)
        bwd(dout, u, delta, A, B, C, D?, z?, delta_bias?, *residuals, dlast?, bool delta_softplus, *extras)
            -> (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias)

    out is (batch, dim, L) and the last state (batch, dim, N); the residuals are what the backward needs besides
    the inputs (e.g. saved states). `bwd` returns each gradient in its input's shape and dtype, contiguous, and an
    empty tensor for an absent optional input (its fake kernel is derived from that rule); `dout` and `dlast` are
    None when their output's gradient is.

    Args:
        name: the ops' name in the `mmvision_mamba` namespace, without _fwd / _bwd.
        fwd, bwd: the kernels' Python entry points, with the signatures above.
        fake_fwd: `fwd`'s fake kernel (shapes and dtypes of its outputs).
        residuals: the names of the forward's outputs after (out, last).
        extras: further non-tensor arguments of both ops, as schema declarations.

    Returns:
        The forward and the backward op.
    """
    tail = ''.join(f', {e}' for e in extras)
    outputs = ', '.join(['Tensor'] * (2 + len(residuals)))
    saved = ''.join(f', Tensor {r}' for r in residuals)
    fwd_op = torch.library.custom_op(f'mmvision_mamba::{name}_fwd', fwd, mutates_args=(),
                                     schema=f'({SCAN_PARAMS}, bool delta_softplus{tail}) -> ({outputs})')
    fwd_op.register_fake(fake_fwd)
    bwd_op = torch.library.custom_op(
        f'mmvision_mamba::{name}_bwd', bwd, mutates_args=(),
        schema=f'(Tensor dout, {SCAN_PARAMS}{saved}, Tensor? dlast, bool delta_softplus{tail}) -> '
               f'({", ".join(["Tensor"] * _N_INPUTS)})')
    bwd_op.register_fake(_fake_grads)

    def setup_context(ctx, inputs: tuple, output: tuple) -> None:
        ctx.save_for_backward(*inputs[:_N_INPUTS], *output[2:])
        ctx.delta_softplus = inputs[_N_INPUTS]
        ctx.extras = inputs[_N_INPUTS + 1:]

    def backward(ctx, dout: Optional[Tensor], dlast: Optional[Tensor], *_residual_grads) -> tuple:
        saved_tensors = ctx.saved_tensors
        inputs, saved_residuals = saved_tensors[:_N_INPUTS], saved_tensors[_N_INPUTS:]
        if dout is None:
            dout = torch.zeros_like(inputs[0])
        grads = bwd_op(dout, *inputs, *saved_residuals, dlast, ctx.delta_softplus, *ctx.extras)
        grads = tuple(None if t is None else g for g, t in zip(grads, inputs))
        return grads + (None,) * (1 + len(ctx.extras))

    fwd_op.register_autograd(backward, setup_context=setup_context)
    return fwd_op, bwd_op
