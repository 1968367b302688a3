"""The compiled CPU selective-scan backend against the reference: outputs, gradients, custom op, compile."""
import functools
import itertools
import warnings
from typing import Dict, Optional, Sequence

import pytest
import torch

from mmvision_mamba.ops import available_backends, cpu_kernel, selective_scan, selective_scan_ref
from mmvision_mamba.ops.cpu_kernel import CHUNK_LEN, load_kernel
from mmvision_mamba.ops.selective_scan import resolve_backend
from mmvision_mamba.ops.selective_scan_cpu import selective_scan_cpu
from mmvision_mamba.testing.scan_inputs import SCAN_ARGS, scan_inputs
#: relative tolerance (max error / max magnitude) of outputs and gradients per input dtype
TOL = {torch.float64: 1e-10, torch.float32: 1e-4, torch.bfloat16: 2e-2, torch.float16: 5e-3}


@pytest.fixture(scope='module', autouse=True)
def kernel():
    module = load_kernel()
    assert module is not None, 'the CPU kernel neither is installed nor builds'
    return module


#: inputs in the model's ranges, float64 unless asked
make_inputs = functools.partial(scan_inputs, dim=20)


def rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    assert torch.isfinite(actual).all(), 'non-finite values'
    a, e = actual.double(), expected.double()
    return float((a - e).abs().max() / e.abs().max().clamp_min(1e-30)) if e.numel() else 0.0


def run_with_grads(fn, x: Dict[str, Optional[torch.Tensor]], delta_softplus: bool, return_last_state: bool,
                   seed: int = 1):
    """Output, last state and gradients of a fixed random projection of both w.r.t. every input."""
    leaves = {k: None if v is None else v.detach().clone().requires_grad_() for k, v in x.items()}
    res = fn(**leaves, delta_softplus=delta_softplus, return_last_state=return_last_state)
    out, last = res if return_last_state else (res, None)
    g = torch.Generator().manual_seed(seed)
    loss = (out.double() * torch.randn(out.shape, generator=g, dtype=torch.float64)).sum()
    if last is not None:
        loss = loss + (last.double() * torch.randn(last.shape, generator=g, dtype=torch.float64)).sum()
    inputs = [v for v in leaves.values() if v is not None]
    grads = dict(zip([k for k, v in leaves.items() if v is not None], torch.autograd.grad(loss, inputs)))
    return out.detach(), None if last is None else last.detach(), grads


def check_against_reference(x: Dict[str, Optional[torch.Tensor]], delta_softplus: bool = True,
                            return_last_state: bool = True, tol: Optional[float] = None) -> None:
    tol = TOL[x['u'].dtype] if tol is None else tol
    out, last, grads = run_with_grads(selective_scan_cpu, x, delta_softplus, return_last_state)
    ref_out, ref_last, ref_grads = run_with_grads(selective_scan_ref, x, delta_softplus, return_last_state)
    assert rel_err(out, ref_out) < tol, 'out'
    if return_last_state:
        assert rel_err(last, ref_last) < tol, 'last state'
    assert grads.keys() == ref_grads.keys()
    for name in ref_grads:
        if ref_grads[name].abs().max() == 0:  # e.g. dA at L = 1, where h_{t-1} = 0
            assert (grads[name] == 0).all(), name
        else:
            assert rel_err(grads[name], ref_grads[name]) < tol, f'grad of {name}'


@pytest.mark.parametrize('length', [1, 2, 7, 64, 196])
@pytest.mark.parametrize('n_state', [1, 8, 16])
def test_matches_reference_fp64(length: int, n_state: int) -> None:
    check_against_reference(make_inputs(length=length, n_state=n_state))


@pytest.mark.parametrize('D,z,delta_bias,delta_softplus,return_last_state',
                         list(itertools.product([False, True], repeat=5)))
def test_optional_inputs_fp64(D: bool, z: bool, delta_bias: bool, delta_softplus: bool,
                              return_last_state: bool) -> None:
    x = make_inputs(batch=1, dim=18, n_state=4, length=70, D=D, z=z, delta_bias=delta_bias)
    if not delta_softplus:
        x['delta'] = torch.nn.functional.softplus(x['delta'])  # keep delta >= 0, as the model does
    check_against_reference(x, delta_softplus=delta_softplus, return_last_state=return_last_state)


@pytest.mark.parametrize('dim,groups,c_groups', [(24, 4, None), (12, 6, None), (12, 2, 3), (20, None, 5)])
def test_grouped_bc_fp64(dim: int, groups: Optional[int], c_groups: Optional[int]) -> None:
    """(batch, G, N, L) B/C, including groups narrower than a vector and different groups of B and C."""
    check_against_reference(make_inputs(batch=3, dim=dim, n_state=4, length=67, groups=groups,
                                        c_groups=c_groups))


def test_float32() -> None:
    check_against_reference(make_inputs(batch=2, dim=40, length=196, dtype=torch.float32))


def test_long_sequence_float32() -> None:
    check_against_reference(make_inputs(batch=1, dim=4, n_state=8, length=4096, dtype=torch.float32))


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_types(dtype: torch.dtype) -> None:
    """Computed in float32 like the reference; out and gradients in the inputs' dtypes."""
    check_against_reference(make_inputs(dim=24, length=100, dtype=dtype))


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
def test_extreme_values(dtype: torch.dtype) -> None:
    """softplus above its threshold 20, and decays exp(delta A) that underflow to 0."""
    x = make_inputs(batch=2, dim=20, n_state=8, length=50, dtype=dtype)
    x['delta'][:, :, ::3] = 25.0
    x['delta'][:, :, 1::7] = -40.0
    x['A'][::2] *= 40.0
    check_against_reference(x)


def test_gradient_through_last_state_only() -> None:
    x = make_inputs(length=40)
    x = {k: v.requires_grad_() for k, v in x.items()}
    used = [x[k] for k in ('u', 'delta', 'A', 'B', 'delta_bias')]  # C, D and z do not reach the state
    grads = torch.autograd.grad(selective_scan_cpu(**x, delta_softplus=True, return_last_state=True)[1].sum(), used)
    ref = torch.autograd.grad(selective_scan_ref(**x, delta_softplus=True, return_last_state=True)[1].sum(), used)
    for g, r in zip(grads, ref):
        assert rel_err(g, r) < 1e-10


def test_mixed_dtypes() -> None:
    """bf16 activations with float32 parameters (autocast): gradients come back in each input's dtype."""
    x = make_inputs(length=50, dtype=torch.float32)
    x.update({k: x[k].to(torch.bfloat16) for k in ('u', 'delta', 'B', 'C', 'z')})
    out, last, grads = run_with_grads(selective_scan_cpu, x, True, True)
    ref_out, ref_last, ref_grads = run_with_grads(selective_scan_ref, x, True, True)
    assert out.dtype == torch.bfloat16 and last.dtype == torch.float32
    assert rel_err(out, ref_out) < TOL[torch.bfloat16] and rel_err(last, ref_last) < 1e-5
    for name, grad in grads.items():
        assert grad.dtype == x[name].dtype
        assert rel_err(grad, ref_grads[name]) < TOL[torch.bfloat16], name


def test_every_instruction_set(kernel) -> None:
    """Each compiled variant this CPU can run (AVX-512, AVX2, baseline) gives the same results."""
    x = make_inputs(batch=2, dim=21, n_state=8, length=70)
    x32 = {k: None if v is None else v.float() for k, v in x.items()}
    default = kernel.get_isa()
    try:
        for isa in kernel.supported_isas():
            kernel.set_isa(isa)
            check_against_reference(x)
            check_against_reference(x32)
    finally:
        kernel.set_isa(default)
    assert kernel.supported_isas()[-1] == 'baseline'


@pytest.mark.parametrize('threads,batch', [(1, 3), (3, 1), (3, 4)])
def test_work_split_across_threads(threads: int, batch: int) -> None:
    """dB/dC sums over channels stay exact when threads split one batch row's channels."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        check_against_reference(make_inputs(batch=batch, dim=50, n_state=8, length=40))
    finally:
        torch.set_num_threads(before)


def test_non_contiguous_inputs() -> None:
    x = make_inputs(batch=2, dim=20, n_state=8, length=30, layout='transposed')  # B as the mixer passes it
    assert not x['B'].is_contiguous() and not x['u'].is_contiguous()
    check_against_reference(x)


def test_time_invariant_bc_uses_reference() -> None:
    x = make_inputs(length=9)
    x['B'], x['C'] = x['B'][0, :, 0].expand(20, -1), x['C'][0, :, 0].expand(20, -1)  # (dim, N)
    torch.testing.assert_close(selective_scan_cpu(**x, delta_softplus=True),
                               selective_scan_ref(**x, delta_softplus=True), rtol=0, atol=0)


def test_empty_sequence() -> None:
    x = make_inputs(length=0)
    out, last = selective_scan_cpu(**x, delta_softplus=True, return_last_state=True)
    assert out.shape == (2, 20, 0) and last.shape == (2, 20, 8) and (last == 0).all()


def test_gradcheck() -> None:
    x = make_inputs(batch=1, dim=3, n_state=2, length=5)
    inputs = tuple(x[k].requires_grad_() for k in SCAN_ARGS)
    assert torch.autograd.gradcheck(
        lambda *a: selective_scan_cpu(*a, delta_softplus=True, return_last_state=True), inputs)


def op_args(x: Dict[str, Optional[torch.Tensor]], delta_softplus: bool = True) -> Sequence:
    return tuple(x[k] for k in SCAN_ARGS) + (delta_softplus,)


@pytest.mark.parametrize('optional', [True, False])
def test_opcheck(optional: bool) -> None:
    x = make_inputs(batch=1, dim=5, n_state=3, length=CHUNK_LEN + 3, D=optional, z=optional,
                    delta_bias=optional)
    x = {k: None if v is None else v.requires_grad_() for k, v in x.items()}
    torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_fwd.default, op_args(x))
    out, last, checkpoints = torch.ops.mmvision_mamba.selective_scan_fwd(*op_args(x))
    assert checkpoints.shape == (1, 5, 2, 3)
    detached = [None if v is None else v.detach() for v in op_args(x)[:-1]]
    bwd_args = (torch.randn_like(out), *detached, checkpoints.detach(), torch.randn_like(last), True)
    torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_bwd.default, bwd_args)


@pytest.mark.parametrize('backend', ['aot_eager', 'inductor'])
def test_compile_fullgraph(backend: str) -> None:
    """No graph break: dispatch, the custom op and its backward trace into one graph; inductor's generated code
    calls the forward and backward ops with the same results."""
    x = make_inputs(batch=1, dim=16, n_state=4, length=20, dtype=torch.float32)

    def block(u, delta, A, B, C, D, z, delta_bias):
        y, last = selective_scan(u * 2, delta, A, B, C, D, z, delta_bias, delta_softplus=True,
                                 return_last_state=True)
        return y.sum(-1) + last.sum(-1)

    torch._dynamo.reset()
    compiled = torch.compile(block, fullgraph=True, backend=backend)
    leaves = [x[k].clone().requires_grad_() for k in SCAN_ARGS]
    expected = block(*leaves)
    expected_grads = torch.autograd.grad(expected.sum(), leaves)
    actual = compiled(*leaves)
    actual_grads = torch.autograd.grad(actual.sum(), leaves)
    torch.testing.assert_close(actual, expected)
    for a, e in zip(actual_grads, expected_grads):
        torch.testing.assert_close(a, e)


def test_auto_dispatch_picks_cpu_backend() -> None:
    x = make_inputs(length=10)
    assert available_backends(x['u'])[0] == 'cpu'
    assert resolve_backend(x['u']) == 'cpu'
    assert 'cpu' not in available_backends(x['u'].to('meta'))
    torch.testing.assert_close(selective_scan(**x, delta_softplus=True),
                               selective_scan_ref(**x, delta_softplus=True), rtol=1e-12, atol=1e-12)


def test_unavailable_kernel_falls_back_to_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither installed nor buildable: one warning, and 'auto' passes over the 'cpu' backend."""
    def no_build():
        raise RuntimeError('no compiler')

    monkeypatch.setattr(cpu_kernel, '_state', {'tried': False, 'module': None})
    monkeypatch.setattr(cpu_kernel, '_import_installed', lambda: None)
    monkeypatch.setattr(cpu_kernel, '_jit_build', no_build)
    u = torch.zeros(1, 2, 3)
    with pytest.warns(RuntimeWarning, match='unavailable'):
        assert 'cpu' not in available_backends(u)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # the failure is remembered: no second warning
        assert resolve_backend(u) != 'cpu'
        assert 'reference' in available_backends(u)
