"""The dispatcher: input validation for every backend, per-device self-checks with fallback, the logged choice."""
import importlib
import itertools
import logging
import warnings
from typing import Callable, List

import pytest
import torch
import torch.nn.functional as F

from mmvision_mamba.ops import available_backends, register_backend, scan_backend, selective_scan, selective_scan_ref
from mmvision_mamba.ops import depthwise_conv, self_check
from mmvision_mamba.ops.self_check import check_same_conv, check_scan
from mmvision_mamba.testing.scan_inputs import scan_inputs

_loggers = itertools.count()
dispatch = importlib.import_module('mmvision_mamba.ops.selective_scan')  # the name is shadowed by the function


def inputs(batch: int = 2, dim: int = 16, n_state: int = 8, length: int = 49, **replace) -> dict:
    """float32 scan inputs, with some replaced."""
    return dict(scan_inputs(batch, dim, n_state, length, dtype=torch.float32), **replace)


BAD = [
    (dict(delta=torch.zeros(2, 16, 1)), r'delta must have shape \(batch, dim, L\) = \(2, 16, 49\) like u, got '
                                        r'\(2, 16, 1\)'),
    (dict(z=torch.zeros(2, 16, 48)), r'z must have shape .* = \(2, 16, 49\) like u, got \(2, 16, 48\)'),
    (dict(u=torch.zeros(2, 16)), r'u must have shape \(batch, dim, L\), got \(2, 16\)'),
    (dict(A=torch.zeros(8, 16)), r'A must have shape \(dim, N\) = \(16, N\), got \(8, 16\)'),
    (dict(B=torch.zeros(2, 8, 48)), r'B must have shape \(batch, N, L\) = \(2, 8, 49\), .*got \(2, 8, 48\)'),
    (dict(C=torch.zeros(2, 3, 8, 49)), r'C must have shape .*\(2, G, 8, 49\) with G dividing dim = 16.*'
                                       r'got \(2, 3, 8, 49\)'),
    (dict(B=torch.zeros(16, 4)), r'B must have shape .*or \(dim, N\) = \(16, 8\), got \(16, 4\)'),
    (dict(D=torch.zeros(8)), r'D must have shape \(dim,\) = \(16,\), got \(8,\)'),
    (dict(delta_bias=torch.zeros(16, 1)), r'delta_bias must have shape \(dim,\) = \(16,\), got \(16, 1\)'),
    (dict(u=torch.zeros(2, 16, 49, dtype=torch.long)), r'u must be floating point, got torch.int64'),
    (dict(A=torch.zeros(16, 8, device='meta')), r'A is on meta but u is on cpu'),
]


@pytest.mark.parametrize('backend', available_backends(torch.zeros(1, 1, 1)) + ['auto'])
@pytest.mark.parametrize('bad, message', BAD, ids=[f'{next(iter(b))}{i}' for i, (b, _) in enumerate(BAD)])
def test_invalid_inputs_name_argument_and_shapes(bad: dict, message: str, backend: str) -> None:
    with pytest.raises(ValueError, match=message):
        selective_scan(**inputs(**bad), delta_softplus=True, backend=backend)


def test_valid_layouts_accepted() -> None:
    """(dim, N) time-invariant, grouped (batch, G, N, L) and mixed dtypes (autocast) pass validation."""
    x = inputs()
    for extra in (dict(B=torch.randn(16, 8)), dict(C=torch.randn(2, 4, 8, 49)),
                  dict(u=x['u'].bfloat16(), delta=x['delta'].bfloat16())):
        y = selective_scan(**dict(x, **extra), delta_softplus=True)
        assert y.shape == (2, 16, 49) and torch.isfinite(y).all()


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch):
    """A private copy of the dispatcher's state: stand-in backends and cached checks vanish after the test."""
    monkeypatch.setattr(dispatch, '_BACKENDS', dict(dispatch._BACKENDS))
    monkeypatch.setattr(dispatch, '_ORDER', list(dispatch._ORDER))
    for name in ('_resolved', '_logged', '_warned'):
        monkeypatch.setattr(dispatch, name, type(getattr(dispatch, name))())
    monkeypatch.setattr(self_check, '_results', {})
    monkeypatch.delenv('MMVM_SCAN_BACKEND', raising=False)
    return dispatch


def stand_in(kind: str, calls: List[int]) -> Callable:
    """A backend that is right, wrong in its outputs, wrong only in its gradients, or raises (a compile error)."""
    def fn(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, return_last_state=False):
        calls.append(1)
        if kind == 'raises':
            raise RuntimeError('PTXAS error: stand-in compile failure')
        args = (u, delta, A, B, C, D, z, delta_bias)
        if kind == 'bad_grads':  # right values, but the gradients of every input are zero
            zero = sum((t * 0).sum() for t in args if t is not None)
            args = tuple(None if t is None else t.detach() for t in args)
        res = selective_scan_ref(*args, delta_softplus, return_last_state)
        out, last = res if return_last_state else (res, None)
        if kind == 'wrong':
            out = out + 1e-2 * out.abs().max()
        if kind == 'bad_grads':
            out = out + zero
        return (out, last) if return_last_state else out
    return fn


def register(name: str, kind: str, calls: List[int], priority: float = 0) -> None:
    register_backend(name, stand_in(kind, calls), lambda u: u.device.type == 'cpu', priority=priority,
                     device_types=('cpu',), self_check=True, requires='a stand-in')


@pytest.fixture
def log_records():
    from mmengine.logging import MMLogger

    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    # a new instance is the 'current' one that the dispatcher's print_log(logger='current') writes to
    logger = MMLogger.get_instance(f'test_scan_dispatch_{next(_loggers)}', log_level='INFO')
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.parametrize('kind, reason', [('wrong', 'out off by'), ('bad_grads', 'grad u off by'),
                                          ('raises', 'RuntimeError: PTXAS error')])
def test_failed_self_check_warns_once_and_falls_back(registry, log_records, kind: str, reason: str) -> None:
    calls: List[int] = []
    register('stand_in', kind, calls)
    x = inputs()
    expected = selective_scan_ref(**x, delta_softplus=True)
    fallback = available_backends(x['u'])[1]
    with pytest.warns(RuntimeWarning, match=rf"'stand_in' failed its self-check .* on cpu \({reason}.*"
                                            rf"\); \"auto\" uses {fallback!r} instead"):
        y = selective_scan(**x, delta_softplus=True)
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)
    assert len(calls) == 1  # the self-check only; the scan itself ran on the next backend
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # remembered: no second warning, no second check
        selective_scan(**x, delta_softplus=True)
    assert len(calls) == 1
    chosen = dispatch.resolve_backend(x['u'])
    assert chosen == fallback
    lines = [r.getMessage() for r in log_records if 'selective scan on cpu' in r.getMessage()]
    assert len(lines) == 1, lines  # logged once per (backend, device type)
    assert f"backend {chosen!r} (auto; passed over: 'stand_in' failed its self-check on cpu ({reason}" in lines[0]


def test_proven_stand_in_is_used(registry, log_records) -> None:
    calls: List[int] = []
    register('stand_in', 'right', calls)
    x = inputs()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        for _ in range(3):
            torch.testing.assert_close(selective_scan(**x, delta_softplus=True),
                                       selective_scan_ref(**x, delta_softplus=True))
    assert len(calls) == 1 + 3  # one self-check, then every call
    messages = [r.getMessage() for r in log_records]
    assert messages.count("mmvision_mamba: selective scan on cpu runs on backend 'stand_in' (auto)") == 1


def test_explicit_backend_that_fails_raises(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    register('stand_in', 'wrong', [], priority=200)  # last in 'auto': only explicit choices reach it
    x = inputs()
    with pytest.raises(RuntimeError, match=r"'stand_in' \(backend='stand_in'\) failed its self-check against the "
                                           r'reference on cpu: out off by .*use backend="auto"'):
        selective_scan(**x, backend='stand_in')
    monkeypatch.setenv('MMVM_SCAN_BACKEND', 'stand_in')
    with pytest.raises(RuntimeError, match=r'\(MMVM_SCAN_BACKEND=stand_in\) failed its self-check'):
        selective_scan(**x)
    with pytest.raises(ValueError, match="Unknown selective-scan backend 'nope'"):
        selective_scan(**x, backend='nope')


def test_scan_backend_context(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend registered with auto=False runs only when named: by the argument, or by the innermost
    `scan_backend` context, which wins over $MMVM_SCAN_BACKEND and loses to the argument."""
    calls: List[int] = []
    register_backend('named_only', stand_in('right', calls), lambda u: True, auto=False)
    assert 'named_only' not in available_backends()
    x = inputs()
    selective_scan(**x)
    assert not calls
    monkeypatch.setenv('MMVM_SCAN_BACKEND', 'reference')
    with scan_backend('named_only'):
        selective_scan(**x, delta_softplus=True)
        assert len(calls) == 1
        selective_scan(**x, backend='reference')
        with scan_backend('reference'):
            selective_scan(**x)
        assert len(calls) == 1
        selective_scan(**x)
    assert len(calls) == 2
    selective_scan(**x)
    assert len(calls) == 2
    with pytest.raises(ValueError, match="Unknown selective-scan backend 'nope'"):
        with scan_backend('nope'):
            pass


def test_passed_over_backend_says_what_it_needs(registry, log_records) -> None:
    register_backend('needs_gpu', stand_in('right', []), lambda u: False, priority=0, device_types=('cpu',),
                     requires='a GPU of the stand-in kind')
    selective_scan(**inputs())
    assert any("passed over: 'needs_gpu' needs a GPU of the stand-in kind" in r.getMessage() for r in log_records)


def test_self_check_runs_eagerly_under_compile(registry) -> None:
    """Under torch.compile(fullgraph=True) the check runs while tracing; the graph holds the backend that passed."""
    torch._dynamo.reset()
    calls: List[int] = []
    register('stand_in', 'wrong', calls)
    x = inputs(length=20)

    def block(u, delta, A, B, C, D, z, delta_bias):
        return selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus=True) * 2

    with pytest.warns(RuntimeWarning, match="'stand_in' failed its self-check"):
        y = torch.compile(block, fullgraph=True, backend='eager')(**x)
    torch.testing.assert_close(y, 2 * selective_scan_ref(**x, delta_softplus=True), rtol=1e-5, atol=1e-5)
    assert len(calls) == 1
    torch._dynamo.reset()


def test_self_check_ignores_caller_modes() -> None:
    """no_grad / inference_mode / autocast of the caller do not break the check (it needs gradients)."""
    with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16):
        result = check_scan(selective_scan_ref, torch.device('cpu'))
    assert result.passed and 0 < result.max_abs_err < 1e-4, result


def test_causal_conv_self_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The causal-conv1d route (shifted input, cropped output) is proven with a right kernel, and a kernel that is
    off by one step fails with one warning, so that the mixer's convs use PyTorch's."""
    from tests.test_ops.test_depthwise_conv import causal_conv1d_standin

    def off_by_one(x, weight, bias=None, activation=None):  # a causal conv of width k - 1 steps too late
        return causal_conv1d_standin(F.pad(x, (1, 0))[..., :-1], weight, bias, activation=activation)

    monkeypatch.setattr(self_check, '_results', {})
    monkeypatch.setattr(depthwise_conv, '_warned', set())
    monkeypatch.setattr(depthwise_conv, '_causal_conv1d_fn', causal_conv1d_standin)
    cpu = torch.device('cpu')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert depthwise_conv.causal_kernel_proven(cpu)
    monkeypatch.setattr(self_check, '_results', {})
    monkeypatch.setattr(depthwise_conv, '_causal_conv1d_fn', off_by_one)
    bad = check_same_conv(depthwise_conv.same_conv1d_silu_causal, cpu)
    assert not bad.passed and 'out off by' in bad.detail
    with pytest.warns(RuntimeWarning, match="causal-conv1d kernel failed its self-check .* use PyTorch's conv1d"):
        assert not depthwise_conv.causal_kernel_proven(cpu)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # remembered: no second check, no second warning
        assert not depthwise_conv.causal_kernel_proven(cpu)


def test_builtin_auto_order() -> None:
    """mamba_ssm (proven) before triton on CUDA; the CUDA backends are self-checked, the CPU kernel before the
    reference."""
    order = available_backends()
    assert order.index('mamba_ssm') < order.index('triton') < order.index('reference')
    assert order.index('cpu') < order.index('reference') and order[-1] == 'reference'
    assert dispatch._BACKENDS['mamba_ssm'].self_check and dispatch._BACKENDS['triton'].self_check
    assert available_backends(torch.zeros(1, 1, 1))[0] == 'cpu'
