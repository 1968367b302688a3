"""The Triton selective-scan kernels against the reference, on CPU under Triton's interpreter.

TRITON_INTERPRET must be set before triton is first imported, and other tests may already have imported it, so the
kernels run in a child process (this file run as a script), which prints its measurements as JSON; the tests here
check them. Skipped where triton does not import. The CUDA path itself is checked by test_gpu.py (-m gpu).
"""
import json
import os
import subprocess
import sys
import traceback
from typing import Dict, Optional

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = ('u', 'delta', 'A', 'B', 'C', 'D', 'z', 'delta_bias')
#: relative tolerance (max error / max magnitude), per input dtype, of outputs and gradients
TOL = {'float64': 1e-10, 'float32': 1e-4, 'bfloat16': 2e-2, 'float16': 5e-3, 'mixed': 2e-2}

#: name -> make_inputs arguments (+ 'softplus', 'last', 'tuning', 'loss_on' extras). The interpreter runs
#: tl.flip element by element, slowly, so most cases take the backward's native reverse scan (the same values
#: there) and a few the 'flip' path that CUDA uses by default.
CASES: Dict[str, dict] = {}
for _n in (8, 16):
    for _len in (1, 7, 64, 130):
        CASES[f'fp32_L{_len}_N{_n}'] = dict(length=_len, n_state=_n, dtype='float32')
CASES['fp32_L130_N8']['tuning'] = dict(reverse='flip')
CASES.update({
    'fp64_L70': dict(length=70, dtype='float64'),
    'fp64_chunk16_tile256_flip': dict(length=70, dim=12, dtype='float64',
                                      tuning=dict(block_l=16, tile=256, reverse='flip')),
    'fp64_groups_2_3': dict(length=37, dim=12, n_state=4, groups=2, c_groups=3, dtype='float64'),
    'fp64_groups_4_odd_group_size': dict(length=37, dim=12, n_state=4, groups=4, dtype='float64'),
    'fp64_no_optionals': dict(length=50, dtype='float64', D=False, z=False, delta_bias=False, softplus=False,
                              last=False, positive_delta=True),
    'fp64_only_last_state': dict(length=50, dtype='float64', loss_on='last'),
    'fp64_non_contiguous': dict(length=45, dtype='float64', non_contiguous=True),
    'fp64_large_delta': dict(length=40, dtype='float64', delta_shift=23.0),  # softplus' x > 20 branch
    'bf16_L130': dict(length=130, dtype='bfloat16'),
    'fp16_L130': dict(length=130, dtype='float16'),
    'mixed_bf16_fp32': dict(length=64, dtype='mixed'),
})


# ----------------------------------------------------------------------------------------------- child process
def _patch_interpreter_scan() -> None:
    """Vectorises the interpreter's generic associative scan over the non-scanned axes (same sequential
    semantics, one combine call per step instead of per element): only to keep the test fast."""
    import numpy as np
    from triton.runtime import interpreter

    def generic_scan(self, input):
        datas = [arg.handle.data for arg in input]
        axis, ndim = self.axis, datas[0].ndim

        def at(k):
            return tuple(k if i == axis else slice(None) for i in range(ndim))

        outs = [np.empty_like(x) for x in datas]
        acc = [x[at(0)] for x in datas]
        for o, a in zip(outs, acc):
            o[at(0)] = a
        for k in range(1, datas[0].shape[axis]):
            prev = tuple(self.to_tensor(a, arg.dtype) for a, arg in zip(acc, input))
            cur = tuple(self.to_tensor(x[at(k)], arg.dtype) for x, arg in zip(datas, input))
            ret = self.combine_fn.fn(*prev, *cur)
            ret = ret if isinstance(ret, tuple) else (ret, )
            acc = [r.handle.data for r in ret]
            for o, a in zip(outs, acc):
                o[at(k)] = a
        return [self.to_tensor(o, arg.dtype) for o, arg in zip(outs, input)]

    interpreter.ScanOps.generic_scan = generic_scan


def _make_inputs(torch, dtype: str = 'float64', non_contiguous: bool = False, **kwargs) -> dict:
    """`scan_inputs` with the dtype as a name ('mixed': autocast's bf16 activations, float32 parameters)."""
    from mmvision_mamba.testing.scan_inputs import scan_inputs

    dtypes = dict(dtype=torch.bfloat16, param_dtype=torch.float32) if dtype == 'mixed' else dict(
        dtype=getattr(torch, dtype))
    return scan_inputs(**kwargs, **dtypes, layout='transposed' if non_contiguous else 'contiguous')


def _run(torch, fn, x, softplus, last, loss_on):
    leaves = {k: None if v is None else v.detach().clone().requires_grad_() for k, v in x.items()}
    res = fn(**leaves, delta_softplus=softplus, return_last_state=last)
    out, state = res if last else (res, None)
    g = torch.Generator().manual_seed(1)
    w_out = torch.randn(out.shape, generator=g, dtype=torch.float64)
    loss = out.double().mul(w_out).sum() if loss_on != 'last' else 0
    if state is not None:
        loss = loss + state.double().mul(torch.randn(state.shape, generator=g, dtype=torch.float64)).sum()
    names = [k for k, v in leaves.items() if v is not None]
    grads = torch.autograd.grad(loss, [leaves[k] for k in names], allow_unused=True)
    return out.detach(), None if state is None else state.detach(), dict(zip(names, grads))


def _err(torch, actual, expected) -> Optional[float]:
    if actual is None or expected is None:
        return None if actual is None and expected is None else float('inf')
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        return float('inf')
    if not torch.isfinite(actual).all():
        return float('nan')
    a, e = actual.double(), expected.double()
    if e.numel() == 0:
        return 0.0
    return float((a - e).abs().max() / e.abs().max().clamp_min(1e-30))


def _child_case(torch, spec: dict) -> dict:
    from mmvision_mamba.ops import selective_scan_triton as mod
    from mmvision_mamba.ops.selective_scan_ref import selective_scan_ref

    spec = dict(spec)
    softplus, last = spec.pop('softplus', True), spec.pop('last', True)
    loss_on, tuning = spec.pop('loss_on', 'both'), spec.pop('tuning', {})
    x = _make_inputs(torch, **spec)
    saved = dict(mod.TUNING)
    mod.TUNING.update(dict(reverse='native'), **tuning)
    try:
        out, state, grads = _run(torch, mod.selective_scan_triton, x, softplus, last, loss_on)
    finally:
        mod.TUNING.clear()
        mod.TUNING.update(saved)
    if spec['dtype'] == 'float32':  # float32 results against the float64 truth for the same inputs
        x64 = {k: None if v is None else v.double() for k, v in x.items()}
        r_out, r_state, r_grads = _run(torch, selective_scan_ref, x64, softplus, last, loss_on)
        cast = {k: v.dtype for k, v in x.items() if v is not None}
        r_out, r_state = r_out.float(), None if r_state is None else r_state.float()
        r_grads = {k: None if v is None else v.to(cast[k]) for k, v in r_grads.items()}
    else:
        r_out, r_state, r_grads = _run(torch, selective_scan_ref, x, softplus, last, loss_on)
    res = {'out': _err(torch, out, r_out), 'last': _err(torch, state, r_state)}
    for k in r_grads:
        if r_grads[k] is None:  # unused by the loss (e.g. C when only the last state counts): zero or None
            r_grads[k] = torch.zeros_like(x[k])
        if r_grads[k].abs().max() == 0:  # e.g. dA at L = 1
            res[f'grad_{k}'] = 0.0 if grads[k] is None or (grads[k] == 0).all() else float('inf')
        else:
            res[f'grad_{k}'] = _err(torch, grads[k], r_grads[k])
    return res


def _child_extras(torch) -> dict:
    """Empty input, custom-op registration checks and a full-graph compile."""
    from mmvision_mamba.ops import selective_scan_triton as mod

    res = {}
    x = _make_inputs(torch, length=0)
    out, last = mod.selective_scan_triton(**x, delta_softplus=True, return_last_state=True)
    res['empty'] = out.shape == (2, 8, 0) and last.shape == (2, 8, 8) and bool((last == 0).all())

    x = _make_inputs(torch, batch=1, dim=3, n_state=2, length=20, dtype='float64')
    args = tuple(x[k].requires_grad_() for k in NAMES) + (True, 16)
    torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_triton_fwd.default, args,
                          test_utils=('test_schema', 'test_faketensor', 'test_autograd_registration'))
    out, state, ckpt = torch.ops.mmvision_mamba.selective_scan_triton_fwd(*args)
    det = [v.detach() for v in args[:8]]
    torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_triton_bwd.default,
                          (torch.randn_like(out), *det, ckpt.detach(), torch.randn_like(state), True, 16),
                          test_utils=('test_schema', 'test_faketensor'))
    res['opcheck'] = ckpt.shape == (1, 3, 2, 2)

    def block(u, delta, A, B, C, D, z, delta_bias):
        y, h = mod.selective_scan_triton(u * 2, delta, A, B, C, D, z, delta_bias, delta_softplus=True,
                                         return_last_state=True)
        return y.sum(-1) + h.sum(-1)

    leaves = [x[k].detach().float().requires_grad_() for k in NAMES]
    expected = block(*leaves)
    expected_grads = torch.autograd.grad(expected.sum(), leaves)
    compiled = torch.compile(block, fullgraph=True, backend='aot_eager')
    actual = compiled(*leaves)
    actual_grads = torch.autograd.grad(actual.sum(), leaves)
    torch.testing.assert_close(actual, expected)
    for a, e in zip(actual_grads, expected_grads):
        torch.testing.assert_close(a, e)
    res['compile_fullgraph'] = True
    return res


def _child_main() -> None:
    os.environ['TRITON_INTERPRET'] = '1'
    sys.path.insert(0, REPO)
    try:
        import triton  # noqa: F401
    except Exception:  # noqa: BLE001
        print(json.dumps({'skip': 'triton does not import'}))
        return
    import torch

    torch.set_num_threads(1)
    _patch_interpreter_scan()
    results = {}
    import time
    for name, spec in CASES.items():
        try:
            t0 = time.time()
            results[name] = _child_case(torch, spec)
            print(name, round(time.time() - t0, 2), file=sys.stderr)
        except Exception:  # noqa: BLE001
            results[name] = {'error': traceback.format_exc()}
    try:
        t0 = time.time()
        results['extras'] = _child_extras(torch)
        print('extras', round(time.time() - t0, 2), file=sys.stderr)
    except Exception:  # noqa: BLE001
        results['extras'] = {'error': traceback.format_exc()}
    print('@@RESULTS@@' + json.dumps(results))


# ------------------------------------------------------------------------------------------------------ tests
@pytest.fixture(scope='module')
def interpreter_results() -> dict:
    env = dict(os.environ, TRITON_INTERPRET='1', PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--interpreter-child'], env=env,
                          capture_output=True, text=True, timeout=600)
    marker = [line for line in proc.stdout.splitlines() if line.startswith('@@RESULTS@@') or '"skip"' in line]
    if not marker:
        pytest.fail(f'interpreter child failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    results = json.loads(marker[-1].replace('@@RESULTS@@', ''))
    if 'skip' in results:
        pytest.skip(results['skip'])
    return results


@pytest.mark.parametrize('case', list(CASES))
def test_matches_reference(interpreter_results: dict, case: str) -> None:
    res = interpreter_results[case]
    assert 'error' not in res, res.get('error')
    tol = TOL[CASES[case]['dtype']]
    bad = {k: v for k, v in res.items() if v is not None and not v <= tol}  # NaN fails too
    assert not bad, f'errors above {tol}: {bad}'
    present = [k for k in NAMES if CASES[case].get(k, True)]
    assert {'out', 'last'} | {f'grad_{k}' for k in present} == set(res)


def test_empty_opcheck_and_compile(interpreter_results: dict) -> None:
    res = interpreter_results['extras']
    assert 'error' not in res, res.get('error')
    assert res == {'empty': True, 'opcheck': True, 'compile_fullgraph': True}


def test_backend_claims_only_cuda() -> None:
    torch = pytest.importorskip('torch')
    from mmvision_mamba.ops import selective_scan_triton as mod

    assert not mod._supports(torch.zeros(1, 1, 1))


if __name__ == '__main__' and '--interpreter-child' in sys.argv:
    _child_main()
