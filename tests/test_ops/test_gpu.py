"""The CUDA paths on a GPU (`pytest -m gpu`; skipped without CUDA): every CUDA scan backend (Triton, also with its
native reverse scan, and mamba-ssm) against the reference, outputs, last state and the gradients of every input, in
float32 / bfloat16 / float16 / float64 (and autocast's mix) for L = 1..4096; custom-op registration, a fullgraph
torch.compile, the causal-conv1d route against PyTorch's conv, and the mixer and whole MambaVision-T / B forward and
backward per backend against the reference scan.

The scan checks need torch alone (plus triton, mamba-ssm, causal-conv1d where installed), so that a GPU machine
without mmcv runs them: `PYTHONPATH=. python tools/gpu_check.py` or `pytest -m gpu tests/test_ops/test_gpu.py`. The
model checks need mmengine (the model registry) and skip without it.
"""
import contextlib
import itertools
import math
from typing import Callable, Dict, Iterator, List, Tuple

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from mmvision_mamba.ops import available_backends, scan_backend, selective_scan, selective_scan_ref
from mmvision_mamba.ops import depthwise_conv, selective_scan_mamba, selective_scan_triton
from mmvision_mamba.testing.scan_inputs import SCAN_ARGS, ScanInputs, scan_inputs
from mmvision_mamba.utils.tensor_error import tensor_error

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')]

#: relative tolerance (max |error| / max |truth|) of outputs and gradients per input dtype
TOL = {'float64': 1e-10, 'float32': 1e-4, 'bfloat16': 2e-2, 'float16': 5e-3, 'mixed': 2e-2}
#: the CUDA backends: name -> (registered backend, Triton tuning)
BACKENDS = {'triton': ('triton', {}), 'triton-native-reverse': ('triton', dict(reverse='native')),
            'mamba_ssm': ('mamba_ssm', {})}
LENGTHS = (1, 7, 64, 196, 1000, 4096)


def _cases() -> Iterator[Tuple[str, str, str, int, dict]]:
    """(backend, case, dtype, L, options): every dtype at every length, the variants at two lengths (one for the
    backends other than Triton's default), autocast's mix, and the gradient of the last state at 4096."""
    for backend in BACKENDS:
        for length, dtype in itertools.product(LENGTHS, ('float32', 'bfloat16', 'float16', 'float64')):
            yield backend, 'full', dtype, length, {}
        variants = dict(N16=dict(n_state=16), groups2=dict(groups=2), groups8=dict(groups=8),  # 3 channels a group
                        no_opt=dict(D=False, z=False, delta_bias=False), last_grad=dict(last_grad=True))
        for length in (7, 196) if backend == 'triton' else (196,):
            for (case, options), dtype in itertools.product(variants.items(), ('float32', 'bfloat16')):
                yield backend, case, dtype, length, options
        yield backend, 'mixed', 'mixed', 196, {}
        yield backend, 'last_grad', 'float32', 4096, dict(last_grad=True)


CASES = [pytest.param(*c, id=f'{c[0]}-{c[1]}-{c[2]}-L{c[3]}') for c in _cases()]


@pytest.fixture(autouse=True)
def _no_tf32() -> Iterator[None]:
    """Full float32 matmuls and convs, so that float32 is compared with float64 at float32's precision."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def require(backend: str) -> None:
    """Skips, saying why, where a backend's package is missing."""
    if backend.startswith('triton') and not selective_scan_triton.triton_available():
        pytest.skip('triton does not import here (or lacks tl.associative_scan)')
    if backend == 'mamba_ssm' and not selective_scan_mamba.mamba_available():
        pytest.skip('mamba_ssm (with its CUDA build) does not import here')


@contextlib.contextmanager
def tuned(backend: str) -> Iterator[None]:
    """The Triton tuning of a `BACKENDS` entry, restored afterwards."""
    saved = dict(selective_scan_triton.TUNING)
    selective_scan_triton.TUNING.update(BACKENDS[backend][1])
    try:
        yield
    finally:
        selective_scan_triton.TUNING.clear()
        selective_scan_triton.TUNING.update(saved)


def make_inputs(dtype: str, device: str = 'cuda', seed: int = 0, **options) -> ScanInputs:
    """B, C, delta, u and z as transposes of (batch, L, .), as the mixer lays them out; 'mixed' = bf16 activations
    with float32 parameters; without the optional inputs delta is positive (no softplus then)."""
    dtypes = (dict(dtype=torch.bfloat16, param_dtype=torch.float32) if dtype == 'mixed'
              else dict(dtype=getattr(torch, dtype)))
    options.setdefault('layout', 'contiguous' if options.get('groups') else 'transposed')
    positive = not options.get('delta_bias', True)
    return scan_inputs(**dict(dict(batch=2, dim=24, n_state=8, length=64), **options), **dtypes, device=device,
                       seed=seed, positive_delta=positive)


def run(fn: Callable, x: ScanInputs, softplus: bool, last_grad: bool) -> Tuple[Tensor, Tensor, Dict[str, Tensor]]:
    """out, last state and the gradients of a fixed random projection of out (plus one of the last state)."""
    leaves = {k: None if v is None else v.detach().clone().requires_grad_() for k, v in x.items()}
    out, last = fn(**leaves, delta_softplus=softplus, return_last_state=True)
    g = torch.Generator().manual_seed(1)
    loss = (out.double() * torch.randn(out.shape, generator=g, dtype=torch.float64).to(out.device)).sum()
    if last_grad:
        loss = loss + (last.double() * torch.randn(last.shape, generator=g, dtype=torch.float64).to(out.device)).sum()
    names = [k for k, v in leaves.items() if v is not None]
    grads = torch.autograd.grad(loss, [leaves[k] for k in names])
    return out.detach(), last.detach(), dict(zip(names, grads))


def errors(actual: tuple, truth: tuple) -> Dict[str, float]:
    """Relative error of each output and gradient; inf for a wrong shape or dtype."""
    pairs = dict(out=(actual[0], truth[0]), last=(actual[1], truth[1]),
                 **{f'd{k}': (actual[2][k], g) for k, g in truth[2].items()})
    return {name: tensor_error(e, a).rel if (a.shape, a.dtype) == (e.shape, e.dtype) else math.inf
            for name, (a, e) in pairs.items()}


@pytest.mark.parametrize('backend,case,dtype,length,options', CASES)
def test_backend_matches_reference(backend: str, case: str, dtype: str, length: int, options: dict) -> None:
    require(backend)
    options = dict(options)
    last_grad = options.pop('last_grad', False)
    if backend == 'mamba_ssm' and (dtype == 'float64' or last_grad):
        pytest.skip('mamba_ssm has no float64 kernel (the reference runs) and no gradient of the last state')
    x = make_inputs(dtype, length=length, **options)
    softplus = x['delta_bias'] is not None
    if dtype == 'float32':  # against float64 on the same values
        truth = run(selective_scan_ref, {k: None if v is None else v.double() for k, v in x.items()}, softplus,
                    last_grad)
        truth = (truth[0].float(), truth[1].float(), {k: g.float() for k, g in truth[2].items()})
    else:  # the reference on the same half inputs computes in float32 too
        truth = run(selective_scan_ref, x, softplus, last_grad)
    with tuned(backend):
        actual = run(lambda **kw: selective_scan(**kw, backend=BACKENDS[backend][0]), x, softplus, last_grad)
    errs = errors(actual, truth)
    bad = {k: v for k, v in errs.items() if not v <= TOL[dtype]}  # NaN fails too
    assert not bad, f'above {TOL[dtype]}: {bad} (all: {errs})'


def test_auto_order_on_cuda() -> None:
    """Proven kernels first: mamba_ssm where it imports, else triton; the reference last."""
    order = available_backends(torch.zeros(1, 1, 1, device='cuda'))
    first = 'mamba_ssm' if selective_scan_mamba.mamba_available() else 'triton'
    if selective_scan_triton.triton_available() or first == 'mamba_ssm':
        assert order[0] == first, order
    assert order[-1] == 'reference'


def test_triton_opcheck() -> None:
    require('triton')
    x = make_inputs('float32', batch=1, dim=5, n_state=3, length=40, layout='contiguous')
    args = tuple(x[k].requires_grad_() for k in SCAN_ARGS) + (True, 32)
    torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_triton_fwd.default, args)
    out, last, ckpt = torch.ops.mmvision_mamba.selective_scan_triton_fwd(*args)
    detached = [v.detach() for v in args[:8]]
    torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_triton_bwd.default,
                          (torch.randn_like(out), *detached, ckpt.detach(), torch.randn_like(last.detach()), True, 32))


def test_mamba_opcheck() -> None:
    require('mamba_ssm')
    x = make_inputs('float32', batch=1, dim=5, n_state=3, length=40, layout='contiguous')
    args = tuple(None if t is None else t.detach().requires_grad_()
                 for t in selective_scan_mamba.prepare_inputs(*[x[k] for k in SCAN_ARGS])) + (True, False)
    torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_mamba_fwd.default, args)


@pytest.mark.parametrize('backend', ['triton', 'mamba_ssm'])
def test_compile_fullgraph(backend: str) -> None:
    """Inductor traces dispatch and the custom ops into one graph; values and gradients as eager."""
    require(backend)
    x = make_inputs('float32', dim=16, length=50)

    def block(u, delta, A, B, C, D, z, delta_bias):
        return selective_scan(u * 2, delta, A, B, C, D, z, delta_bias, delta_softplus=True, backend=backend).sum(-1)

    leaves = [x[k].detach().clone().requires_grad_() for k in SCAN_ARGS]
    expected = block(*leaves)
    expected_grads = torch.autograd.grad(expected.sum(), leaves)
    torch._dynamo.reset()
    actual = torch.compile(block, fullgraph=True)(*leaves)
    actual_grads = torch.autograd.grad(actual.sum(), leaves)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    for a, e in zip(actual_grads, expected_grads):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('dtype,tol', [(torch.float32, 1e-5), (torch.bfloat16, 1e-2)])
def test_causal_conv1d_route_equals_same_conv(dtype: torch.dtype, tol: float) -> None:
    """causal-conv1d on the shifted input, cropped, equals silu('same' depthwise conv): outputs and gradients."""
    if not depthwise_conv.causal_conv1d_available():
        pytest.skip('causal_conv1d does not import here')
    assert depthwise_conv.causal_kernel_proven(torch.device('cuda'))
    g = torch.Generator().manual_seed(0)
    x0, w0, dy = (torch.randn(*s, generator=g) for s in ((8, 160, 196), (160, 1, 3), (8, 160, 196)))
    results = []
    for conv in (depthwise_conv.same_conv1d_silu_causal,
                 lambda x, w: F.silu(F.conv1d(x, w.to(x.dtype), padding=1, groups=x.shape[1]))):
        x, w = x0.to('cuda', dtype).requires_grad_(), w0.cuda().requires_grad_()
        y = conv(x, w)
        y.backward(dy.to(y))
        results.append((y.detach(), x.grad, w.grad))
    for a, e in zip(*results):
        assert tensor_error(e, a).rel < tol


def cuda_backends() -> List[str]:
    return [b for b in ('triton', 'mamba_ssm') if b in available_backends(torch.zeros(1, 1, 1, device='cuda'))]


def backward_results(model: torch.nn.Module, x: Tensor, backend: str) -> List[Tensor]:
    """Output, input gradient and parameter gradients of a square loss, with the scan on `backend`."""
    model.zero_grad()
    x = x.clone().requires_grad_()
    with scan_backend(backend):
        y = model(x)
    y = y if isinstance(y, Tensor) else torch.cat([t.flatten() for t in y])
    y.square().mean().backward()
    return [y.detach(), x.grad] + [p.grad.clone() for p in model.parameters() if p.grad is not None]


def check_against_reference(model: torch.nn.Module, x: Tensor, tol: float) -> None:
    """Each CUDA backend against the reference scan: every tensor of `backward_results` within `tol` of its largest
    magnitude, or of 1e-3 of the largest gradient where its own is smaller (gradients that are zero in exact
    arithmetic, e.g. of a conv bias before a BatchNorm, hold rounding noise only)."""
    backends = cuda_backends()
    if not backends:
        pytest.skip('no CUDA scan backend imports here (triton, mamba_ssm)')
    expected = backward_results(model, x, 'reference')
    floor = 1e-3 * max(t.abs().max().item() for t in expected[1:])
    for backend in backends:
        actual = backward_results(model, x, backend)
        assert len(actual) == len(expected)
        errs = [tensor_error(e, a) for a, e in zip(actual, expected)]
        worst = max(err.abs / max(err.scale, floor) for err in errs)
        assert worst < tol, (backend, worst)


def test_mixer_matches_reference_scan() -> None:
    pytest.importorskip('mmengine', reason='the model layers need mmengine')
    from mmvision_mamba.models.layers import MambaVisionMixer

    torch.manual_seed(0)
    check_against_reference(MambaVisionMixer(64).cuda(), torch.randn(4, 196, 64, device='cuda'), 1e-4)


@pytest.mark.parametrize('arch', ['tiny', 'base'])
def test_mambavision_matches_reference_scan(arch: str) -> None:
    """A whole MambaVision forward and backward at 224 px, each CUDA backend against the reference scan."""
    pytest.importorskip('mmengine', reason='the backbone needs mmengine')
    from mmvision_mamba.models import MambaVision

    torch.manual_seed(0)
    model = MambaVision(arch, drop_path_rate=0.).cuda()
    check_against_reference(model, torch.randn(2, 3, 224, 224, device='cuda'), 1e-3)
