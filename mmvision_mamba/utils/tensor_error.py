"""Largest errors of tensors against a reference, in float64 (torch only, no mmcv)."""
import math
from typing import Iterable, NamedTuple, Sequence, Tuple

import torch
from torch import Tensor


class TensorError(NamedTuple):
    """The largest error of one tensor against its reference.

    Args:
        abs: max |output - reference|; NaN when the output holds NaN or Inf.
        scale: max |reference|.
    """
    abs: float
    scale: float

    @property
    def rel(self) -> float:
        """`abs / scale`; 0 for two zero tensors, Inf when only the reference is zero."""
        if self.scale > 0:
            return self.abs / self.scale
        return self.abs if self.abs == 0 or math.isnan(self.abs) else math.inf


def tensor_error(reference: Tensor, output: Tensor) -> TensorError:
    """The largest error of `output` against `reference` (any dtypes and devices; computed in float64 on the
    reference's device).

    Raises:
        ValueError: the shapes differ.
    """
    if tuple(reference.shape) != tuple(output.shape):
        raise ValueError(f'Output shape {tuple(output.shape)} differs from the reference {tuple(reference.shape)}.')
    if not reference.numel():
        return TensorError(0., 0.)
    ref = reference.detach().double()
    out = output.detach().to(ref.device, torch.float64)
    err = (out - ref).abs().max().item() if torch.isfinite(out).all() else math.nan
    return TensorError(err, ref.abs().max().item())


def max_errors(reference: Sequence[Tensor], outputs: Sequence[Tensor]) -> Tuple[float, float]:
    """(max absolute error, max relative error) of `outputs` against `reference` over all tensor pairs
    (`tensor_error`); NaN when an output holds NaN or Inf.

    Raises:
        ValueError: the two differ in number or shapes of tensors.
    """
    reference, outputs = list(reference), list(outputs)
    if len(reference) != len(outputs):
        raise ValueError(f'{len(outputs)} outputs against {len(reference)} reference tensors.')
    errors = [tensor_error(ref, out) for ref, out in zip(reference, outputs)]
    return _nan_max(e.abs for e in errors), _nan_max(e.rel for e in errors)


def _nan_max(values: Iterable[float]) -> float:
    """The largest value, NaN if any is NaN (the builtin max keeps a NaN only in first place), 0 if none."""
    values = list(values)
    return math.nan if any(math.isnan(v) for v in values) else max(values, default=0.)
