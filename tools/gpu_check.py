#!/usr/bin/env python
"""GPU check of the CUDA selective-scan backends and the causal-conv1d path, against the reference.

    python tools/gpu_check.py            # correctness table + timings (a few minutes; most of it Triton compiles)
    python tools/gpu_check.py --sweep    # also times Triton launch configurations (a few more minutes)
    python tools/gpu_check.py --quick    # correctness at L <= 196 and the anchor timings only

Needs torch with CUDA and triton. mamba_ssm and causal_conv1d are checked when they import. mmcv, mmengine and mmdet
are not needed: when `mmvision_mamba/__init__` cannot import them, the script loads `mmvision_mamba.ops`,
`mmvision_mamba.models.layers` and `mmvision_mamba.utils` (torch only) without the package's __init__.

Checks: every backend's outputs, last state and the gradients of every input against the reference (float32 inputs
against the reference in float64 on the same values; float16/bfloat16 against the reference on the same half inputs,
which also computes in float32), for L from 1 to 4096; registration, custom-op fake kernels (opcheck) and a
fullgraph torch.compile; the mixer end to end. Timings: CUDA events, median of many runs, at MambaVision-T's
stage-3 scan shape (batch 128, 160 channels, L 196, N 8), forward and forward+backward.
Prints a summary and the failures; the full table goes to $OUT/gpu_check.txt (or ./gpu_check.txt). Exit code 1 on
any failure.
"""
import argparse
import contextlib
import importlib
import os
import sys
import time
import traceback
import types

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: relative tolerance (max |error| / max |truth|) per input dtype
TOL = {'float64': 1e-10, 'float32': 1e-4, 'bfloat16': 2e-2, 'float16': 5e-3, 'mixed': 2e-2}
DTYPES = {'float64': torch.float64, 'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}
NAMES = ('u', 'delta', 'A', 'B', 'C', 'D', 'z', 'delta_bias')
ROWS = []  # full table
DEVICE = 'cuda'  # (a dry run of the script's logic on CPU under TRITON_INTERPRET=1 sets 'cpu')


def log(*args) -> None:
    print(*args, flush=True)


def import_project():
    """mmvision_mamba's ops and layers, with or without its OpenMMLab dependencies."""
    sys.path.insert(0, REPO)
    missing = []
    for dep in ('mmengine', 'mmcv', 'mmdet', 'mmseg'):  # what mmvision_mamba/__init__ pulls in
        try:
            importlib.import_module(dep)
        except Exception:  # noqa: BLE001
            missing.append(dep)
    if missing:  # stand-in parent packages: only ops/__init__ and models/layers/__init__ run (torch only)
        for name, path in (('mmvision_mamba', 'mmvision_mamba'), ('mmvision_mamba.models', 'mmvision_mamba/models')):
            pkg = types.ModuleType(name)
            pkg.__path__ = [os.path.join(REPO, path)]
            sys.modules[name] = pkg
        log(f'note: {", ".join(missing)} not importable here: loading mmvision_mamba.ops and '
            'mmvision_mamba.models.layers without the package __init__')
    mods = types.SimpleNamespace()
    mods.ops = importlib.import_module('mmvision_mamba.ops')
    mods.dispatch = importlib.import_module('mmvision_mamba.ops.selective_scan')
    mods.ref = importlib.import_module('mmvision_mamba.ops.selective_scan_ref')
    mods.triton = importlib.import_module('mmvision_mamba.ops.selective_scan_triton')
    mods.mamba = importlib.import_module('mmvision_mamba.ops.selective_scan_mamba')
    mods.conv = importlib.import_module('mmvision_mamba.ops.depthwise_conv')
    mods.layers = importlib.import_module('mmvision_mamba.models.layers')
    return mods


@contextlib.contextmanager
def tuning(mods, **kw):
    saved = dict(mods.triton.TUNING)
    mods.triton.TUNING.update(kw)
    try:
        yield
    finally:
        mods.triton.TUNING.clear()
        mods.triton.TUNING.update(saved)


def make_inputs(batch=2, dim=24, n_state=8, length=64, dtype='float32', groups=None, optional=True,
                seed=0, device=None):
    """Model-like ranges: A = -exp(.), delta ~ softplus^-1 of 0.01..0.1; B/C and delta laid out as the mixer's
    (transposes of (batch, L, .)). dtype 'mixed' = autocast-like: bf16 activations, float32 parameters."""
    g = torch.Generator().manual_seed(seed)

    def r(*s):
        return torch.randn(*s, generator=g, dtype=torch.float64)

    def bc():
        if groups is None:
            return r(batch, length, n_state).transpose(1, 2)
        return r(batch, groups, n_state, length)

    x = dict(u=r(batch, dim, length), delta=r(batch, length, dim).transpose(1, 2) - 3.0,
             A=-torch.exp(r(dim, n_state)), B=bc(), C=bc(), D=r(dim) if optional else None,
             z=r(batch, dim, length) if optional else None, delta_bias=r(dim) * 0.5 if optional else None)
    if not optional:
        x['delta'] = torch.nn.functional.softplus(x['delta'])  # no softplus in the scan: keep delta > 0
    out = {}
    for k, v in x.items():
        if v is None:
            out[k] = None
            continue
        if dtype == 'mixed':
            dt = torch.bfloat16 if k in ('u', 'delta', 'B', 'C', 'z') else torch.float32
        else:
            dt = DTYPES[dtype]
        out[k] = v.to(device=device or DEVICE, dtype=dt)
    return out


def run(fn, x, softplus=True, last_grad=False):
    """out, last state and the gradients of a fixed random projection (of out, plus of the last state)."""
    leaves = {k: None if v is None else v.detach().clone().requires_grad_() for k, v in x.items()}
    out, last = fn(**leaves, delta_softplus=softplus, return_last_state=True)
    g = torch.Generator().manual_seed(1)
    loss = (out.double() * torch.randn(out.shape, generator=g, dtype=torch.float64).to(out.device)).sum()
    if last_grad:
        loss = loss + (last.double() * torch.randn(last.shape, generator=g, dtype=torch.float64).to(out.device)).sum()
    names = [k for k, v in leaves.items() if v is not None]
    grads = torch.autograd.grad(loss, [leaves[k] for k in names])
    return out.detach(), last.detach(), dict(zip(names, grads))


def rel_err(a, e) -> float:
    """max |a - e| / max |e| (NaN when `a` is not finite), inf when the shapes differ."""
    from mmvision_mamba.utils.tensor_error import tensor_error  # importable once import_project has run

    return tensor_error(e, a).rel if a.shape == e.shape else float('inf')


def compare(res, truth) -> dict:
    out, last, grads = res
    t_out, t_last, t_grads = truth
    errs = {'out': rel_err(out, t_out), 'last': rel_err(last, t_last)}
    for k, e in t_grads.items():
        errs[f'd{k}'] = rel_err(grads[k], e)
        if grads[k].dtype != e.dtype:
            errs[f'd{k}'] = float('inf')
    return errs


def record(backend, case, dtype, length, errs=None, error=None) -> bool:
    tol = TOL[dtype]
    if error is not None:
        ok, worst, what = False, float('nan'), error
    else:
        what, worst = max(errs.items(), key=lambda kv: -1 if kv[1] != kv[1] else kv[1])  # NaN sorts last
        bad = [k for k, v in errs.items() if not v <= tol]
        ok = not bad
        if bad:
            what, worst = bad[0], errs[bad[0]]
    ROWS.append((backend, case, dtype, length, worst, tol, 'PASS' if ok else 'FAIL', what))
    if not ok:
        log(f'FAIL {backend:18s} {case:10s} {dtype:8s} L={length:<5d} worst {what}: {worst:.3g} (tol {tol:g})'
            + ('' if error is None else f'\n{error}'))
    return ok


def correctness(mods, backends, quick: bool) -> None:
    ref = mods.ref.selective_scan_ref
    lengths = [1, 7, 64, 196] + ([] if quick else [1000, 4096])
    cases = [('full', L, dt, {}) for L in lengths for dt in ('float32', 'bfloat16', 'float16', 'float64')]
    for L in (7, 196):
        for dt in ('float32', 'bfloat16'):
            cases += [('N16', L, dt, dict(n_state=16)), ('groups2', L, dt, dict(groups=2)),
                      ('groups8', L, dt, dict(groups=8)),  # 3 channels a group: one-channel blocks
                      ('no_opt', L, dt, dict(optional=False)), ('last_grad', L, dt, dict(last_grad=True))]
    cases += [('mixed', 196, 'mixed', {}), ('last_grad', 4096 if not quick else 196, 'float32', dict(last_grad=True))]
    for case, L, dt, kw in cases:
        kw = dict(kw)
        last_grad = kw.pop('last_grad', False)
        softplus = kw.get('optional', True)
        x = make_inputs(length=L, dtype=dt, **kw)
        if dt == 'float32':
            truth = run(ref, {k: None if v is None else v.double() for k, v in x.items()}, softplus, last_grad)
            truth = (truth[0].float(), truth[1].float(), {k: g.float() for k, g in truth[2].items()})
        else:
            truth = run(ref, x, softplus, last_grad)
        for name, (fn, settings) in backends.items():
            if name.startswith('mamba_ssm') and (dt == 'float64' or last_grad):
                continue  # no float64 kernel (runs the reference); drops the last state's gradient by design
            if name != 'triton' and case not in ('full', 'mixed') and L != 196:
                continue  # variants: fewer cases
            try:
                with tuning(mods, **settings):
                    errs = compare(run(fn, x, softplus, last_grad), truth)
                record(name, case, dt, L, errs)
            except Exception:  # noqa: BLE001
                record(name, case, dt, L, error=traceback.format_exc(limit=4))
        torch.cuda.empty_cache()


def api_checks(mods, backends) -> None:
    """Dispatch order, opcheck of the custom ops, fullgraph torch.compile (inductor), the mixer end to end."""
    u = torch.zeros(1, 1, 1, device=DEVICE)
    order = mods.dispatch.available_backends(u)
    first = 'mamba_ssm' if mods.mamba.mamba_available() else 'triton'  # proven kernels first
    ok = order[0] == first and order[-1] == 'reference'
    ROWS.append(('dispatch', 'auto order', '-', 0, 0.0, 0.0, 'PASS' if ok else 'FAIL', ' > '.join(order)))
    log(f'auto order on CUDA: {order}')

    def check(label, fn):
        try:
            fn()
            ROWS.append((label, 'api', '-', 0, 0.0, 0.0, 'PASS', ''))
        except Exception:  # noqa: BLE001
            err = traceback.format_exc(limit=6)
            ROWS.append((label, 'api', '-', 0, float('nan'), 0.0, 'FAIL', err))
            log(f'FAIL {label}\n{err}')

    def opcheck_triton():
        x = make_inputs(batch=1, dim=5, n_state=3, length=40, dtype='float32')
        args = tuple(None if x[k] is None else x[k].requires_grad_() for k in NAMES) + (True, 32)
        torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_triton_fwd.default, args)
        out, last, ckpt = torch.ops.mmvision_mamba.selective_scan_triton_fwd(*args)
        det = [v.detach() for v in args[:8]]
        torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_triton_bwd.default,
                              (torch.randn_like(out), *det, ckpt.detach(), torch.randn_like(last.detach()), True,
                               32))

    def opcheck_mamba():
        x = make_inputs(batch=1, dim=5, n_state=3, length=40, dtype='float32')
        args = mods.mamba._prepare(*[x[k] for k in NAMES])
        args = tuple(None if t is None else t.detach().requires_grad_() for t in args) + (True, False)
        torch.library.opcheck(torch.ops.mmvision_mamba.selective_scan_mamba_fwd.default, args)

    def compile_fullgraph(backend):
        def f():
            x = make_inputs(batch=2, dim=16, n_state=8, length=50, dtype='float32')

            def block(u, delta, A, B, C, D, z, delta_bias):
                return mods.ops.selective_scan(u * 2, delta, A, B, C, D, z, delta_bias, delta_softplus=True,
                                               backend=backend).sum(-1)

            leaves = [x[k].clone().requires_grad_() for k in NAMES]
            expected = block(*leaves)
            eg = torch.autograd.grad(expected.sum(), leaves)
            torch._dynamo.reset()
            compiled = torch.compile(block, fullgraph=True)
            actual = compiled(*leaves)
            ag = torch.autograd.grad(actual.sum(), leaves)
            torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
            for a, e in zip(ag, eg):
                torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4)
        return f

    def mixer_end_to_end(backend):
        def f():
            torch.manual_seed(0)
            mixer = mods.layers.MambaVisionMixer(64).to(DEVICE)
            x = torch.randn(4, 196, 64, device=DEVICE)
            outs = []
            for name in ('reference', backend):
                os.environ['MMVM_SCAN_BACKEND'] = name
                mixer.zero_grad()
                xi = x.clone().requires_grad_()
                y = mixer(xi)
                y.square().mean().backward()
                outs.append([y.detach(), xi.grad] + [p.grad.clone() for p in mixer.parameters()])
            os.environ.pop('MMVM_SCAN_BACKEND')
            for a, e in zip(*outs):
                assert rel_err(a, e) < 1e-4, rel_err(a, e)
        return f

    if 'triton' in backends:
        check('opcheck triton ops', opcheck_triton)
        check('compile triton', compile_fullgraph('triton'))
        check('mixer triton', mixer_end_to_end('triton'))
    if 'mamba_ssm' in backends:
        check('opcheck mamba ops', opcheck_mamba)
        check('compile mamba_ssm', compile_fullgraph('mamba_ssm'))
        check('mixer mamba_ssm', mixer_end_to_end('mamba_ssm'))
    if mods.conv._causal_conv1d_fn is not None:
        def conv_paths():
            for dt, tol in ((torch.float32, 1e-5), (torch.bfloat16, 1e-2)):
                x0 = torch.randn(8, 160, 196, device='cuda', dtype=dt)
                w0 = torch.randn(160, 1, 3, device='cuda')
                dy = torch.randn(8, 160, 196, device='cuda', dtype=dt)
                res = []
                for use in (True, False):
                    mods.conv._use_causal_kernel = (lambda x, k: True) if use else (lambda x, k: False)
                    x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
                    y = mods.conv.same_conv1d_silu(x, w.to(dt) if not use else w)
                    y.backward(dy)
                    res.append((y.detach(), x.grad, w.grad))
                for a, e in zip(*res):
                    assert rel_err(a, e) < tol, (dt, rel_err(a, e))
        saved = mods.conv._use_causal_kernel
        try:
            check('causal_conv1d == same conv', conv_paths)
        finally:
            mods.conv._use_causal_kernel = saved


def cuda_time(fn, runs: int, warmup: int = 3) -> float:
    """Median milliseconds of `fn` over `runs` calls timed by CUDA events."""
    from mmvision_mamba.utils.timing import median_ms  # importable once import_project has run

    return median_ms(fn, runs, warmup, device=DEVICE)


def scan_timers(fn, x):
    leaves = {k: None if v is None else v.detach().clone().requires_grad_() for k, v in x.items()}
    dout = torch.randn_like(x['u'])

    def fwd():
        with torch.no_grad():
            fn(**leaves, delta_softplus=True)

    def fwd_bwd():
        out = fn(**leaves, delta_softplus=True)
        torch.autograd.grad(out, [v for v in leaves.values() if v is not None], dout.to(out.dtype))

    return fwd, fwd_bwd


def timings(mods, backends, sweep: bool) -> None:
    shape = dict(batch=128, dim=160, n_state=8, length=196)
    log('\n== timings: scan at (128, 160, 196, N=8), B/C/delta laid out as in the mixer; median ms (CUDA events)')
    log(f'{"backend":28s} {"dtype":8s} {"fwd":>9s} {"fwd+bwd":>9s}')
    timed = dict(backends)
    timed['reference'] = (mods.ref.selective_scan_ref, {})
    if mods.mamba.selective_scan_fn is not None:
        timed['mamba_ssm selective_scan_fn'] = (mods.mamba.selective_scan_fn, {})  # its own autograd.Function
    for dt in ('float32', 'mixed'):
        x = make_inputs(**shape, dtype=dt, seed=3)
        for name, (fn, settings) in timed.items():
            if name.startswith('mamba_ssm selective_scan_fn'):
                x_run = dict(zip(NAMES, mods.mamba._prepare(*[x[k] for k in NAMES])))
                x_run['B'], x_run['C'] = x_run['B'].squeeze(1), x_run['C'].squeeze(1)
            else:
                x_run = x
            runs = 3 if name == 'reference' else 50
            try:
                with tuning(mods, **settings):
                    fwd, fwd_bwd = scan_timers(fn, x_run)
                    t_f = cuda_time(fwd, runs, warmup=1 if name == 'reference' else 3)
                    t_fb = cuda_time(fwd_bwd, runs, warmup=1 if name == 'reference' else 3)
                log(f'{name:28s} {dt:8s} {t_f:9.3f} {t_fb:9.3f}')
                ROWS.append((f'time {name}', 'T-stage3', dt, 196, t_f, t_fb, 'ms', 'fwd / fwd+bwd'))
            except Exception:  # noqa: BLE001
                log(f'{name:28s} {dt:8s} failed:\n{traceback.format_exc(limit=4)}')
        torch.cuda.empty_cache()

    # the mixer at MambaVision-T stage 3 (dim 320, 14x14 windows): scan backend x conv path
    log('\n== timings: MambaVisionMixer(320) on (128, 196, 320), float32, fwd+bwd, median ms')
    mixer = mods.layers.MambaVisionMixer(320).cuda()
    xin = torch.randn(128, 196, 320, device='cuda', requires_grad=True)
    convs = [('pytorch conv', lambda x, k: False)]
    if mods.conv._causal_conv1d_fn is not None:
        convs.append(('causal_conv1d', lambda x, k: True))
    saved = mods.conv._use_causal_kernel
    for scan in [n for n in ('triton', 'mamba_ssm') if n in backends]:
        for conv_name, use in convs:
            os.environ['MMVM_SCAN_BACKEND'] = scan
            mods.conv._use_causal_kernel = use
            try:
                t = cuda_time(lambda: mixer(xin).sum().backward(), 20)
                log(f'mixer scan={scan:10s} {conv_name:14s} {t:9.3f}')
                ROWS.append((f'time mixer {scan}', conv_name, 'float32', 196, t, 0.0, 'ms', 'fwd+bwd'))
            except Exception:  # noqa: BLE001
                log(f'mixer scan={scan} {conv_name} failed:\n{traceback.format_exc(limit=4)}')
    mods.conv._use_causal_kernel = saved
    os.environ.pop('MMVM_SCAN_BACKEND', None)

    if sweep and 'triton' in backends:
        log('\n== Triton launch configurations: fp32 fwd+bwd at the anchor shape, median ms (correctness at L=196)')
        x = make_inputs(**shape, dtype='float32', seed=3)
        small = make_inputs(length=196, dtype='float32')
        truth = run(mods.ref.selective_scan_ref, {k: None if v is None else v.double() for k, v in small.items()})
        truth = (truth[0].float(), truth[1].float(), {k: g.float() for k, g in truth[2].items()})
        fn = mods.triton.selective_scan_triton
        for block_l, tile in ((16, 1024), (32, 1024), (32, 2048), (64, 2048), (32, 4096), (64, 4096)):
            for warps in (4, 8):
                for reverse in ('flip', 'native'):
                    cfg = dict(block_l=block_l, tile=tile, num_warps=warps, reverse=reverse)
                    try:
                        with tuning(mods, **cfg):
                            errs = compare(run(fn, small), truth)
                            worst = max(errs.values())
                            fwd, fwd_bwd = scan_timers(fn, x)
                            t_f, t_fb = cuda_time(fwd, 30), cuda_time(fwd_bwd, 30)
                        flag = 'ok' if worst <= TOL['float32'] else f'WRONG ({worst:.2g})'
                        log(f'{str(cfg):75s} fwd {t_f:7.3f}  fwd+bwd {t_fb:7.3f}  {flag}')
                        ROWS.append(('sweep triton', str(cfg), 'float32', 196, t_f, t_fb, 'ms', flag))
                    except Exception as err:  # noqa: BLE001
                        log(f'{str(cfg):75s} failed: {type(err).__name__}: {str(err)[:200]}')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sweep', action='store_true', help='also time Triton launch configurations')
    parser.add_argument('--quick', action='store_true', help='L <= 196 only')
    parser.add_argument('--no-timings', action='store_true')
    args = parser.parse_args()
    if not torch.cuda.is_available():
        log('no CUDA device')
        return 2
    mods = import_project()
    triton = mods.triton.triton

    log(f'torch {torch.__version__}, triton {getattr(triton, "__version__", None)}, {torch.cuda.get_device_name()}, '
        f'mamba_ssm: {mods.mamba.mamba_available()} (custom op: {mods.mamba._ext is not None}), '
        f'causal_conv1d: {mods.conv._causal_conv1d_fn is not None}')
    backends = {}
    if mods.triton.triton_available():
        backends['triton'] = (mods.triton.selective_scan_triton, {})
        backends['triton native-reverse'] = (mods.triton.selective_scan_triton, dict(reverse='native'))
    if mods.mamba.mamba_available():
        backends['mamba_ssm'] = (mods.mamba.selective_scan_mamba, {})
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    start = time.time()
    log('\n== correctness (failures are printed as they happen)')
    correctness(mods, backends, args.quick)
    log(f'({time.time() - start:.0f} s)')
    api_checks(mods, backends)
    log(f'({time.time() - start:.0f} s)')
    summary = {}
    for backend, case, dt, L, worst, tol, status, what in ROWS:
        if status in ('PASS', 'FAIL'):
            s = summary.setdefault((backend, dt), [0, 0, 0.0])
            s[0] += 1
            s[1] += status == 'PASS'
            if tol > 0 and worst == worst:
                s[2] = max(s[2], worst / tol)
    log(f'\n{"backend":30s} {"dtype":9s} {"passed":>8s}  worst err / tol')
    for (backend, dt), (n, ok, ratio) in summary.items():
        log(f'{backend:30s} {dt:9s} {ok:3d}/{n:<4d}  {ratio:.3g}')
    failed = sum(n - ok for n, ok, _ in summary.values())
    log(f'\n{"ALL PASS" if not failed else f"{failed} FAILED"}')

    if not args.no_timings:
        timed = {k: v for k, v in backends.items() if k != 'triton native-reverse'
                 or all(r[6] == 'PASS' for r in ROWS if r[0] == k)}
        timings(mods, timed, args.sweep)
        log(f'({time.time() - start:.0f} s)')

    path = os.path.join(os.environ.get('OUT') or '.', 'gpu_check.txt')
    with open(path, 'w') as f:
        f.write('backend\tcase\tdtype\tL\tworst_err_or_ms\ttol_or_ms\tstatus\tdetail\n')
        for row in ROWS:
            f.write('\t'.join(str(c).replace('\n', ' | ') for c in row) + '\n')
    log(f'full table: {path}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
