"""tensor_error / max_errors: the comparator of the self-checks, the ONNX checks and tools/gpu_check.py."""
import math

import pytest
import torch

from mmvision_mamba.utils.tensor_error import TensorError, max_errors, tensor_error


def test_tensor_error_in_float64() -> None:
    ref = torch.tensor([1., -4., 2.], dtype=torch.float64)
    err = tensor_error(ref, torch.tensor([1., -3.5, 2.], dtype=torch.float16))
    assert err == TensorError(abs=0.5, scale=4.) and err.rel == 0.125
    assert tensor_error(ref, ref.float()).abs == 0.


def test_zero_and_empty_references() -> None:
    zeros = torch.zeros(3)
    assert tensor_error(zeros, zeros).rel == 0.
    assert tensor_error(zeros, torch.tensor([0., 1e-3, 0.])).rel == math.inf
    assert tensor_error(torch.zeros(0, 4), torch.zeros(0, 4)) == (0., 0.)


def test_non_finite_output_is_nan_wherever_it_is() -> None:
    ref = [torch.ones(2), torch.ones(3)]
    assert math.isnan(tensor_error(ref[0], torch.tensor([1., math.inf])).rel)
    # the NaN of the second tensor is not hidden by the first one's error
    abs_err, rel_err = max_errors(ref, [torch.tensor([1., 3.]), torch.tensor([1., math.nan, 1.])])
    assert math.isnan(abs_err) and math.isnan(rel_err)


def test_max_errors_over_tensors() -> None:
    ref = [torch.full((2, ), 10.), torch.full((3, ), 0.5)]
    assert max_errors(ref, [torch.full((2, ), 11.), torch.full((3, ), 0.6)]) == pytest.approx((1., 0.2))
    assert max_errors([], []) == (0., 0.)


def test_mismatches_are_named() -> None:
    with pytest.raises(ValueError, match=r'Output shape \(3,\) differs from the reference \(2,\)'):
        tensor_error(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match='1 outputs against 2 reference tensors'):
        max_errors([torch.zeros(1)] * 2, [torch.zeros(1)])
