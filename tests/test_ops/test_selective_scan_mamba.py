"""The 'mamba_ssm' backend's plumbing (layouts, dtypes, custom ops, autograd, compile) on CPU.

mamba-ssm's CUDA extension is replaced by a stand-in with the same calling convention and checks (its
selective_scan.cpp: fwd(u, delta, A, B, C, D, z, delta_bias, softplus[, extra]) -> [out, x(, out_z)], bwd(...) ->
[du, ddelta, dA, dB, dC, dD, ddelta_bias(, dz)]), computed with the reference. The real kernel is checked by
test_gpu.py on a GPU (pytest -m gpu).
"""
from typing import Optional

import pytest
import torch
import torch.nn.functional as F

from mmvision_mamba.ops import selective_scan_cpu  # noqa: F401  (its custom ops compute the stand-in)
from mmvision_mamba.ops import selective_scan_mamba as mod
from mmvision_mamba.ops.selective_scan_ref import selective_scan_ref
from mmvision_mamba.testing.scan_inputs import SCAN_ARGS, ScanInputs, scan_inputs


class FakeExt:
    """Stand-in for `selective_scan_cuda`, in its newer form with a trailing optional argument."""

    @staticmethod
    def _check(u, delta, A, B, C, D, z, delta_bias):
        itype = u.dtype
        assert itype in (torch.float32, torch.float16, torch.bfloat16)
        assert A.dtype == torch.float32 and delta.dtype == itype
        for t in (B, C):
            assert t.dtype == (torch.float32 if t.dim() == 2 else itype) and t.dim() in (2, 4)
        for t in (u, delta, B, C, z):
            assert t is None or t.stride(-1) == 1 or t.shape[-1] == 1  # as its TORCH_CHECKs
        for t in (D, delta_bias):
            assert t is None or t.dtype == torch.float32

    @staticmethod
    def _scan(u, delta, A, B, C, D, delta_bias, softplus):
        sq = lambda t: t.squeeze(1) if t.dim() == 4 and t.shape[1] == 1 else t  # noqa: E731
        return selective_scan_ref(u, delta, A, sq(B), sq(C), D, None, delta_bias, softplus, True)

    def fwd(self, u, delta, A, B, C, D, z, delta_bias, softplus, extra):
        self._check(u, delta, A, B, C, D, z, delta_bias)
        out, last = self._scan(u, delta, A, B, C, D, delta_bias, softplus)
        x = torch.zeros(*u.shape[:2], -(-u.shape[2] // 2048), 2 * A.shape[1])
        x[:, :, -1, 1::2] = last
        return [out, x] + ([out * F.silu(z)] if z is not None else [])

    def bwd(self, u, delta, A, B, C, D, z, delta_bias, dout, x, out, dz, softplus, recompute, extra):
        # autograd is off inside custom ops: the gradients come from the CPU backend's kernels
        self._check(u, delta, A, B, C, D, z, delta_bias)
        assert dout.dtype == u.dtype and (z is None) == (out is None) and x.dtype == torch.float32
        f = lambda t: None if t is None else t.float()  # noqa: E731
        args = [f(t) for t in (u, delta, A, B, C, D, z, delta_bias)]
        _, _, ckpt = torch.ops.mmvision_mamba.selective_scan_fwd(*args, softplus)
        du, ddelta, dA, dB, dC, dD, dz, dbias = torch.ops.mmvision_mamba.selective_scan_bwd(
            dout.float(), *args, ckpt, None, softplus)
        res = [du.to(u.dtype), ddelta.to(u.dtype), dA, dB.to(B.dtype), dC.to(C.dtype),
               dD if D is not None else None, dbias if delta_bias is not None else None]
        return res + ([dz.to(u.dtype)] if z is not None else [])


@pytest.fixture
def fake_mamba(monkeypatch):
    monkeypatch.setattr(mod, '_ext', FakeExt())
    monkeypatch.setattr(mod, 'selective_scan_fn', lambda *a, **k: None)


def make_inputs(batch: int = 2, dim: int = 8, n_state: int = 4, length: int = 30, dtype=torch.float32,
                groups: Optional[int] = None, optional: bool = True, non_contiguous: bool = False) -> ScanInputs:
    """Activations in `dtype`, parameters float32 (as under autocast)."""
    return scan_inputs(batch, dim, n_state, length, dtype=dtype, param_dtype=torch.float32, groups=groups,
                       D=optional, z=optional, delta_bias=optional,
                       layout='transposed' if non_contiguous else 'contiguous')


def run(fn, x, last: bool = False):
    leaves = {k: None if v is None else v.detach().clone().requires_grad_() for k, v in x.items()}
    res = fn(**leaves, delta_softplus=True, return_last_state=last)
    out = res[0] if last else res
    g = torch.Generator().manual_seed(1)
    (out.float() * torch.randn(out.shape, generator=g)).sum().backward()
    return res, {k: v.grad for k, v in leaves.items() if v is not None}


@pytest.mark.parametrize('dtype,tol', [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)])
@pytest.mark.parametrize('kw', [{}, dict(groups=2), dict(optional=False), dict(non_contiguous=True)])
def test_matches_reference(fake_mamba, dtype: torch.dtype, tol: float, kw: dict) -> None:
    x = make_inputs(dtype=dtype, **kw)
    (out, last), grads = run(mod.selective_scan_mamba, x, last=True)
    (r_out, r_last), r_grads = run(selective_scan_ref, x, last=True)
    assert out.dtype == dtype and last.dtype == torch.float32
    torch.testing.assert_close(out.float(), r_out.float(), rtol=tol, atol=tol)
    torch.testing.assert_close(last, r_last, rtol=1e-5, atol=1e-5)
    for k in r_grads:
        assert grads[k].dtype == x[k].dtype and grads[k].shape == x[k].shape, k
        torch.testing.assert_close(grads[k].float(), r_grads[k].float(), rtol=tol, atol=tol * 10, msg=k)


def test_last_state_gradient_raises(fake_mamba) -> None:
    x = {k: None if v is None else v.requires_grad_() for k, v in make_inputs().items()}
    out, last = mod.selective_scan_mamba(**x, delta_softplus=True, return_last_state=True)
    with pytest.raises(NotImplementedError, match='last state'):
        (out.sum() + last.sum()).backward()


def test_float64_and_empty_use_reference(fake_mamba) -> None:
    x = make_inputs(dtype=torch.float64)
    x = {k: None if v is None else v.double() for k, v in x.items()}
    torch.testing.assert_close(mod.selective_scan_mamba(**x, delta_softplus=True),
                               selective_scan_ref(**x, delta_softplus=True), rtol=0, atol=0)
    x = make_inputs(length=0)
    assert mod.selective_scan_mamba(**x, delta_softplus=True).shape == (2, 8, 0)


def test_opcheck(fake_mamba) -> None:
    x = make_inputs(length=20)
    args = tuple(None if t is None else t.requires_grad_() for t in mod.prepare_inputs(*x.values())) + (True, True)
    torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_mamba_fwd.default, args,
                          test_utils=('test_schema', 'test_faketensor', 'test_autograd_registration'))
    out, last, saved_x, pre_gate = torch.ops.mmvision_mamba.selective_scan_mamba_fwd(*args)
    detached = [None if t is None else t.detach() for t in args[:8]]
    torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_mamba_bwd.default,
                          (torch.randn_like(out), *detached, saved_x.detach(), pre_gate.detach(), None, True, True),
                          test_utils=('test_schema', 'test_faketensor'))


def test_compile_fullgraph(fake_mamba) -> None:
    x = make_inputs(length=12)

    def block(*a: Optional[torch.Tensor]) -> torch.Tensor:
        return mod.selective_scan_mamba(a[0] * 2, *a[1:], delta_softplus=True).sum(-1)

    leaves = [x[k].clone().requires_grad_() for k in SCAN_ARGS]
    expected = block(*leaves)
    expected_grads = torch.autograd.grad(expected.sum(), leaves)
    compiled = torch.compile(block, fullgraph=True, backend='aot_eager')
    actual = compiled(*leaves)
    for a, e in zip(torch.autograd.grad(actual.sum(), leaves), expected_grads):
        torch.testing.assert_close(a, e)
    torch.testing.assert_close(actual, expected)


def test_registered_first_for_cuda_only() -> None:
    """Proven kernels first in 'auto' on CUDA (before 'triton'); still self-checked; never claims CPU tensors."""
    from mmvision_mamba.ops import selective_scan_triton  # noqa: F401
    from mmvision_mamba.ops.selective_scan import _BACKENDS, available_backends

    order = available_backends()
    assert order.index('mamba_ssm') < order.index('triton') < order.index('reference')
    assert _BACKENDS['mamba_ssm'].self_check
    assert not mod._supports(torch.zeros(1, 1, 1))
