#!/usr/bin/env python
"""GPU check: runs the CUDA tests (`pytest -m gpu` on tests/test_ops/test_gpu.py) and times the scan backends.

    PYTHONPATH=. python tools/gpu_check.py --out gpu_check.json   # tests + timings (minutes, mostly Triton compiles)
    PYTHONPATH=. python tools/gpu_check.py --quick                # tests at L <= 196 only
    PYTHONPATH=. python tools/gpu_check.py --sweep                # also time Triton launch configurations
    PYTHONPATH=. python tools/gpu_check.py -- -k triton -x        # after --: more pytest arguments

Needs torch with CUDA, triton and pytest; mamba_ssm and causal_conv1d are checked where they import, the mixer and
whole-model tests and the mixer timing where mmengine imports. mmcv, mmdet and mmseg are not needed (PYTHONPATH=.
finds the repository's package where it is not pip-installed). What the tests check: see tests/test_ops/test_gpu.py.
Timings: median ms over interleaved rounds (CUDA events) of every scan backend on the device, forward and
forward + backward, at MambaVision-T's level-2 scan (batch 128, 160 channels, L 196, N 8) laid out as the mixer
passes it. Writes every test's outcome and every timing to the JSON file (--out; default $OUT/gpu_check.json or
./gpu_check.json); exit code 1 when a test failed, 2 without a CUDA device.
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import platform
import statistics
import sys
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
import torch

from mmvision_mamba.ops import available_backends, scan_backend, selective_scan, selective_scan_ref
from mmvision_mamba.ops import depthwise_conv, selective_scan_mamba, selective_scan_triton
from mmvision_mamba.testing.scan_inputs import ScanInputs, scan_inputs
from mmvision_mamba.utils.tensor_error import tensor_error
from mmvision_mamba.utils.timing import Timer, interleave

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
GPU_TESTS = osp.join(REPO, 'tests', 'test_ops', 'test_gpu.py')
#: (block_l, tile) x num_warps x reverse of `--sweep`
SWEEP_TILES = ((16, 1024), (32, 1024), (32, 2048), (64, 2048), (32, 4096), (64, 4096))


class ResultCollector:
    """A pytest plugin that keeps one row per test: its outcome, seconds and, unless it passed, why."""

    def __init__(self) -> None:
        self.rows: List[dict] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == 'call' or report.outcome != 'passed':  # skips and errors of setup / teardown too
            detail = ''
            if report.skipped and isinstance(report.longrepr, tuple):
                detail = report.longrepr[2].removeprefix('Skipped: ')
            elif not report.passed:
                detail = report.longreprtext[-3000:]
            self.rows.append(dict(test=report.nodeid, outcome=report.outcome, when=report.when,
                                  seconds=round(report.duration, 3), detail=detail))


def run_tests(extra_args: Sequence[str] = ()) -> Tuple[int, List[dict]]:
    """Runs the GPU tests in this process; returns pytest's exit code and the rows of `ResultCollector`."""
    collector = ResultCollector()
    code = pytest.main(['-m', 'gpu', '-q', '-p', 'no:cacheprovider', '--rootdir', REPO, GPU_TESTS, *extra_args],
                       plugins=[collector])
    return int(code), collector.rows


@contextlib.contextmanager
def triton_tuning(**settings) -> Iterator[None]:
    saved = dict(selective_scan_triton.TUNING)
    selective_scan_triton.TUNING.update(settings)
    try:
        yield
    finally:
        selective_scan_triton.TUNING.clear()
        selective_scan_triton.TUNING.update(saved)


def scan_steps(x: ScanInputs, backend: str) -> Tuple[Callable[[], object], Callable[[], object]]:
    """The forward (no grad) and forward + backward of one scan on `backend`."""
    leaves = {k: None if v is None else v.detach().clone().requires_grad_() for k, v in x.items()}
    dout = torch.randn_like(x['u'])

    def fwd() -> None:
        with torch.no_grad():
            selective_scan(**leaves, delta_softplus=True, backend=backend)

    def fwd_bwd() -> None:
        out = selective_scan(**leaves, delta_softplus=True, backend=backend)
        torch.autograd.grad(out, [v for v in leaves.values() if v is not None], dout.to(out.dtype))

    return fwd, fwd_bwd


def timing_inputs(shape: Sequence[int], dtype: str, device: str) -> ScanInputs:
    """The mixer's scan: activations in `dtype` ('mixed': bf16 with float32 parameters, as under autocast)."""
    dtypes = (dict(dtype=torch.bfloat16, param_dtype=torch.float32) if dtype == 'mixed'
              else dict(dtype=getattr(torch, dtype)))
    batch, dim, length = shape
    return scan_inputs(batch, dim, 8, length, **dtypes, device=device, z=False, layout='mixer', seed=3)


def scan_timings(device: str, shape: Sequence[int], runs: int) -> List[dict]:
    """Median ms of every scan backend on `device` (and Triton's native reverse scan), interleaved round by round."""
    rows = []
    for dtype in ('float32', 'mixed'):
        x = timing_inputs(shape, dtype, device)
        backends = available_backends(x['u'])
        steps: Dict[str, Callable[[], object]] = {}
        for backend in backends:
            fwd, fwd_bwd = scan_steps(x, backend)
            steps[f'{backend} fwd'], steps[f'{backend} fwd+bwd'] = fwd, fwd_bwd
        times = interleave(steps, Timer(device), runs, warmup=3)
        if 'triton' in backends:
            with triton_tuning(reverse='native'):
                fwd, fwd_bwd = scan_steps(x, 'triton')
                times['triton native-reverse fwd+bwd'] = interleave({'t': fwd_bwd}, Timer(device), runs, 3)['t']
        for name, ts in times.items():
            backend, _, step = name.rpartition(' ')
            rows.append(dict(what='scan', backend=backend, step=step, dtype=dtype, shape=list(shape),
                             ms=statistics.median(ts), rounds=len(ts)))
    return rows


def mixer_timings(device: str, runs: int) -> List[dict]:
    """MambaVisionMixer(320) on (128, 196, 320), float32 forward + backward, per scan backend (needs mmengine)."""
    try:
        from mmvision_mamba.models.layers import MambaVisionMixer
    except ImportError as err:
        return [dict(what='mixer', skipped=f'the model layers need mmengine ({err})')]
    mixer = MambaVisionMixer(320).to(device)
    x = torch.randn(128, 196, 320, device=device, requires_grad=True)
    steps = {}
    for backend in available_backends(x):
        def step(backend: str = backend) -> None:
            with scan_backend(backend):
                mixer(x).sum().backward()
        steps[backend] = step
    times = interleave(steps, Timer(device), runs, warmup=2)
    conv = 'causal_conv1d' if depthwise_conv.causal_conv1d_available() else 'pytorch conv'
    return [dict(what='mixer', backend=name, step='fwd+bwd', dtype='float32', conv=conv,
                 ms=statistics.median(ts), rounds=len(ts)) for name, ts in times.items()]


def triton_sweep(device: str, shape: Sequence[int], runs: int) -> List[dict]:
    """Triton launch configurations: forward + backward ms at `shape`, and the worst relative error at L = 196."""
    rows = []
    x = timing_inputs(shape, 'float32', device)
    small = scan_inputs(2, 24, 8, 196, dtype=torch.float32, device=device)
    expected = selective_scan_ref(**{k: v.double() for k, v in small.items()}, delta_softplus=True)
    for (block_l, tile), warps, reverse in ((t, w, r) for t in SWEEP_TILES for w in (4, 8) for r in ('flip', 'native')):
        cfg = dict(block_l=block_l, tile=tile, num_warps=warps, reverse=reverse)
        try:
            with triton_tuning(**cfg):
                err = tensor_error(expected, selective_scan(**small, delta_softplus=True, backend='triton')).rel
                ms = interleave({'t': scan_steps(x, 'triton')[1]}, Timer(device), runs, warmup=2)['t']
            rows.append(dict(what='triton sweep', config=cfg, ms=statistics.median(ms), rel_err=err))
        except Exception as err:  # noqa: BLE001 - a configuration that does not compile is a finding
            rows.append(dict(what='triton sweep', config=cfg, error=f'{type(err).__name__}: {str(err)[:300]}'))
    return rows


def environment(device: str) -> dict:
    triton = selective_scan_triton.triton
    return dict(python=platform.python_version(), torch=torch.__version__,
                triton=getattr(triton, '__version__', None), cuda=torch.version.cuda,
                device=torch.cuda.get_device_name() if device == 'cuda' else device,
                mamba_ssm=selective_scan_mamba.mamba_available(),
                causal_conv1d=depthwise_conv.causal_conv1d_available())


def print_timings(rows: List[dict]) -> None:
    print(f'\n{"what":13s} {"backend":24s} {"step":8s} {"dtype":8s} {"ms":>9s}')
    for r in rows:
        if 'ms' in r:
            label = r.get('backend') or str(r.get('config'))
            print(f'{r["what"]:13s} {label:24s} {r.get("step", ""):8s} {r.get("dtype", ""):8s} {r["ms"]:9.3f}'
                  + (f'  err {r["rel_err"]:.2g}' if 'rel_err' in r else ''))
        else:
            print(f'{r["what"]:13s} {r.get("error") or r.get("skipped")}')


def parse_args(argv: Optional[List[str]] = None) -> Tuple[argparse.Namespace, List[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index('--') + 1:] if '--' in argv else []
    argv = argv[:argv.index('--')] if '--' in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog='Arguments after -- go to pytest.')
    parser.add_argument('--out', help='JSON results (default: $OUT/gpu_check.json or ./gpu_check.json)')
    parser.add_argument('--quick', action='store_true', help='tests at L <= 196 only')
    parser.add_argument('--sweep', action='store_true', help='also time Triton launch configurations')
    parser.add_argument('--no-timings', action='store_true')
    parser.add_argument('--runs', type=int, default=50, help='timed rounds')
    parser.add_argument('--shape', default='128,160,196', help='scan timed: batch,channels,L')
    parser.add_argument('--device', default='cuda', choices=['cuda', 'cpu'],
                        help="where to time; 'cpu' is a dry run (the tests skip without CUDA)")
    return parser.parse_args(argv), pytest_args


def main(argv: Optional[List[str]] = None) -> int:
    args, pytest_args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        print('no CUDA device')
        return 2
    out = args.out or osp.join(os.environ.get('OUT') or '.', 'gpu_check.json')
    if args.quick:
        pytest_args = ['-k', 'not L1000 and not L4096'] + pytest_args
    start = time.time()
    code, tests = run_tests(pytest_args)
    summary = {outcome: sum(r['outcome'] == outcome for r in tests) for outcome in ('passed', 'failed', 'skipped')}
    result = dict(environment=environment(args.device), pytest_exit_code=code, summary=summary, tests=tests,
                  timings=[], seconds=0.)
    if not args.no_timings:
        shape = [int(s) for s in args.shape.split(',')]
        result['timings'] = scan_timings(args.device, shape, args.runs) + mixer_timings(args.device, args.runs)
        if args.sweep and selective_scan_triton.triton_available() and args.device == 'cuda':
            result['timings'] += triton_sweep(args.device, shape, args.runs)
        print_timings(result['timings'])
    result['seconds'] = round(time.time() - start, 1)
    with open(out, 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=1)
    print(f'\ntests: {summary}; results: {out}')
    return 1 if summary['failed'] or code not in (0, 5) else 0  # 5: no test collected


if __name__ == '__main__':
    sys.exit(main())
