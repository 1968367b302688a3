"""Speed and memory of the selective scan and of the MambaVision backbone against mmdet's Swin-T and
ResNet-50, every figure from one process and reported with its ratio to the baseline of the same run.

    python tools/benchmark.py                                   # scan + backbones at 224 px, fp32
    python tools/benchmark.py --suite backbone --sizes cls det seg --modes infer train \\
        --dtypes fp32 bf16 --compile --out-dir work_dirs/benchmark

Scan: every backend that runs on the device vs the PyTorch reference, forward and forward+backward,
at MambaVision-T's stage shapes. Backbones: latency (median), images/s and peak memory (CUDA: the
allocator's peak; CPU: the process's peak resident memory above the idle model, measured in a fresh
process per case), inference and a training step (forward + backward + SGD), eager and compiled.
Writes benchmark.json and benchmark.png to --out-dir and prints a table.
"""
import argparse
import json
import multiprocessing as mp
import os
import os.path as osp
import platform
import resource
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}
SIZES = {'cls': (224, 224), 'det': (800, 1344), 'seg': (512, 512)}
SCAN_SHAPES = [(8, 160, 196), (1, 160, 196), (8, 320, 49)]  # MambaVision-T levels 2 and 3 at 224 px


def backbone_cfg(name: str) -> dict:
    """mmengine config of a backbone: mambavision_<arch>[@w1,w2,w3,w4], swin_t or resnet50."""
    if name.startswith('mambavision_'):
        arch, _, windows = name[len('mambavision_'):].partition('@')
        cfg = dict(type='MambaVision', arch=arch)
        if windows:
            cfg['window_size'] = tuple(int(w) for w in windows.split(','))
        return cfg
    if name == 'swin_t':
        return dict(type='mmdet.SwinTransformer', embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                    window_size=7, drop_path_rate=0.2, out_indices=(0, 1, 2, 3))
    if name == 'resnet50':
        return dict(type='mmdet.ResNet', depth=50, out_indices=(0, 1, 2, 3), norm_eval=False)
    raise ValueError(f'Unknown model {name!r}: mambavision_<arch>[@w1,w2,w3,w4], swin_t or resnet50.')


def build_backbone(name: str) -> torch.nn.Module:
    import mmdet.models  # noqa: F401  (registers mmdet's backbones)
    from mmengine.registry import MODELS

    import mmvision_mamba  # noqa: F401
    return MODELS.build(backbone_cfg(name))


class Timer:
    """Wall time of a callable: CUDA events on a GPU, perf_counter on the CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == 'cuda'

    def __call__(self, fn: Callable[[], object]) -> float:
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end)
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3


def median_ms(fn: Callable[[], object], timer: Timer, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    return statistics.median(timer(fn) for _ in range(repeats))


def scan_suite(device: torch.device, repeats: int) -> List[dict]:
    """Every scan backend on `device` vs the reference, fp32, as the mixer calls it."""
    from mmvision_mamba.ops import available_backends, selective_scan

    rows, timer = [], Timer(device)
    for batch, dim, length in SCAN_SHAPES:
        g = torch.Generator().manual_seed(0)
        x = dict(u=torch.randn(batch, dim, length, generator=g), delta=torch.randn(batch, dim, length, generator=g) - 3,
                 A=-torch.exp(torch.randn(dim, 8, generator=g)), B=torch.randn(batch, 8, length, generator=g),
                 C=torch.randn(batch, 8, length, generator=g), D=torch.randn(dim, generator=g),
                 delta_bias=torch.randn(dim, generator=g) * 0.5)
        x = {k: v.to(device).requires_grad_() for k, v in x.items()}
        dout = torch.randn_like(x['u'])
        base = {}
        for backend in ['reference'] + [b for b in available_backends(x['u']) if b != 'reference']:
            def fwd() -> None:
                with torch.no_grad():
                    selective_scan(**x, delta_softplus=True, backend=backend)

            def fwd_bwd() -> None:
                torch.autograd.grad(selective_scan(**x, delta_softplus=True, backend=backend), list(x.values()), dout)

            for mode, fn in (('fwd', fwd), ('fwd+bwd', fwd_bwd)):
                ms = median_ms(fn, timer, repeats)
                base.setdefault(mode, ms)
                rows.append(dict(suite='scan', shape=f'{batch}x{dim}x{length} N=8', backend=backend, mode=mode,
                                 ms=ms, speedup_vs_reference=base[mode] / ms))
    return rows


def onnx_suite(repeats: int, threads: int, out_dir: str) -> List[dict]:
    """MambaVision-T (classification windows) on the CPU: ONNX Runtime vs eager PyTorch, fp32, batch 1 at 224 and
    512 px from one dynamic export, the two timed alternately in the same loop."""
    from mmvision_mamba.deployment import OnnxRuntimeModel, count_nodes, export_onnx, max_errors

    model = build_backbone('mambavision_tiny').eval()
    path = osp.join(out_dir, 'mambavision_tiny.onnx')
    start = time.perf_counter()
    export_onnx(model, torch.randn(1, 3, 224, 224), path, dynamic=True)
    export_s = time.perf_counter() - start
    nodes = count_nodes(path)
    session = OnnxRuntimeModel(path, threads)
    rows = []
    for size in (224, 512):
        x = torch.randn(1, 3, size, size)
        with torch.no_grad():
            err = max_errors(model(x), session(x))[1]
            eager, ort = [], []
            for i in range(repeats + 2):
                for fn, times in ((lambda: model(x), eager), (lambda: session(x), ort)):
                    t0 = time.perf_counter()
                    fn()
                    if i >= 2:  # warm-up
                        times.append((time.perf_counter() - t0) * 1e3)
        eager_ms, ort_ms = statistics.median(eager), statistics.median(ort)
        rows.append(dict(suite='onnx', model='mambavision_tiny', size=f'{size}x{size}', batch=1, eager_ms=eager_ms,
                         ort_ms=ort_ms, ort_speedup=eager_ms / ort_ms, max_rel_err=err, export_s=export_s,
                         onnx_nodes=nodes['total'], scan_nodes=nodes.get('Scan', 0)))
        print(f'  onnx mambavision_tiny {size}x{size}: eager {eager_ms:.1f} ms, ONNX Runtime {ort_ms:.1f} ms',
              flush=True)
    return rows


def backbone_case(name: str, size: str, mode: str, dtype: str, batch: int, compiled: bool,
                  device: str, repeats: int, threads: int) -> dict:
    """One timed case; runs in its own process on the CPU so that its peak memory is its own."""
    torch.set_num_threads(threads)
    dev = torch.device(device)
    model = build_backbone(name).to(dev)
    model.train(mode == 'train')
    x = torch.randn(batch, 3, *SIZES[size], device=dev)
    if dev.type == 'cuda':
        model, x = model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    fn_model = torch.compile(model) if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=1e-3) if mode == 'train' else None
    autocast = torch.autocast(dev.type, dtype=DTYPES[dtype], enabled=dtype != 'fp32')

    def step() -> None:
        if opt is None:
            with torch.no_grad(), autocast:
                fn_model(x)
            return
        with autocast:
            loss = sum(o.float().mean() for o in fn_model(x))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    if dev.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    idle_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step()  # compile / warm-up
    ms = median_ms(step, Timer(dev), repeats, warmup=1)
    peak_mib = (torch.cuda.max_memory_allocated() / 2 ** 20 if dev.type == 'cuda'
                else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - idle_kib) / 1024)
    return dict(suite='backbone', model=name, size=size, mode=mode, dtype=dtype, batch=batch,
                compiled=compiled, ms=ms, img_per_s=batch * 1e3 / ms, peak_mib=peak_mib)


def _child(queue: mp.Queue, kwargs: dict) -> None:
    try:
        queue.put(backbone_case(**kwargs))
    except Exception as e:  # noqa: BLE001 - report the failure in the table, go on
        queue.put(dict(kwargs, error=f'{type(e).__name__}: {e}'[:200]))


def run_case(kwargs: dict) -> dict:
    if kwargs['device'] != 'cpu':
        return backbone_case(**kwargs)
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, kwargs))
    proc.start()
    row = queue.get()
    proc.join()
    return row


def add_ratios(rows: List[dict], baseline: str) -> None:
    """images/s of each backbone over the baseline's, for the same size/mode/dtype/batch/compile."""
    key = ('size', 'mode', 'dtype', 'batch', 'compiled')
    ref = {tuple(r[k] for k in key): r for r in rows if r.get('model') == baseline and 'ms' in r}
    for r in rows:
        b = ref.get(tuple(r.get(k) for k in key))
        if b and 'ms' in r:
            r[f'speed_vs_{baseline}'] = b['ms'] / r['ms']


def print_table(rows: List[dict]) -> None:
    for suite in ('scan', 'backbone', 'onnx'):
        sel = [r for r in rows if r['suite'] == suite]
        if not sel:
            continue
        cols = [c for c in sel[0] if c not in ('suite', 'device_name')] + sorted({c for r in sel for c in r} - set(sel[0]))
        widths = {c: max(len(c), *(len(fmt(r.get(c))) for r in sel)) for c in cols}
        print('\n' + '  '.join(c.rjust(widths[c]) for c in cols))
        for r in sel:
            print('  '.join(fmt(r.get(c)).rjust(widths[c]) for c in cols))


def fmt(v: object) -> str:
    return f'{v:.3g}' if isinstance(v, float) else ('' if v is None else str(v))


def plot(rows: List[dict], path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    sel = [r for r in rows if r['suite'] == 'backbone' and 'ms' in r]
    if not sel:
        return
    labels = sorted({f"{r['size']} {r['mode']} {r['dtype']}{' compiled' if r['compiled'] else ''}" for r in sel})
    models = sorted({r['model'] for r in sel})
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels)), 4))
    width = 0.8 / len(models)
    for i, m in enumerate(models):
        vals = [next((r['img_per_s'] for r in sel if r['model'] == m and
                      f"{r['size']} {r['mode']} {r['dtype']}{' compiled' if r['compiled'] else ''}" == lab), 0)
                for lab in labels]
        ax.bar([j + i * width for j in range(len(labels))], vals, width, label=m)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))], labels, rotation=20, ha='right')
    ax.set_ylabel('images / s')
    ax.set_title(f'Backbones on {rows[0].get("device_name", "")}')
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--suite', choices=['scan', 'backbone', 'onnx', 'all'], default='all')
    parser.add_argument('--models', nargs='+', default=['mambavision_tiny', 'swin_t', 'resnet50'])
    parser.add_argument('--baseline', default='swin_t', help='model the ratios refer to')
    parser.add_argument('--sizes', nargs='+', choices=list(SIZES), default=['cls'])
    parser.add_argument('--modes', nargs='+', choices=['infer', 'train'], default=['infer'])
    parser.add_argument('--dtypes', nargs='+', choices=list(DTYPES), default=['fp32'])
    parser.add_argument('--batch', type=int, nargs='+', default=[1],
                        help='batch sizes (e.g. 128 for GPU classification throughput)')
    parser.add_argument('--compile', action='store_true', help='also time torch.compile of each backbone')
    parser.add_argument('--onnx', action='store_true',
                        help='also export MambaVision-T to ONNX and time ONNX Runtime against eager (CPU)')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, default=2, help='CPU threads')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out-dir', default='work_dirs/benchmark')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    device_name = torch.cuda.get_device_name(device) if device.type == 'cuda' else \
        f'{platform.processor() or platform.machine()} CPU, {args.threads} threads'
    print(f'Device: {device_name}; torch {torch.__version__}')

    rows: List[dict] = []
    if args.suite in ('scan', 'all'):
        rows += scan_suite(device, args.repeats * 3)
    if args.suite in ('backbone', 'all'):
        for size in args.sizes:
            for mode in args.modes:
                for dtype in args.dtypes:
                    for batch in args.batch:
                        for compiled in ([False, True] if args.compile else [False]):
                            for name in args.models:
                                row = run_case(dict(name=name, size=size, mode=mode, dtype=dtype, batch=batch,
                                                    compiled=compiled, device=args.device,
                                                    repeats=args.repeats, threads=args.threads))
                                print(f"  {name} {size} {mode} {dtype} b{batch}"
                                      f"{' compiled' if compiled else ''}: "
                                      + (f"{row['ms']:.1f} ms" if 'ms' in row else row['error']), flush=True)
                                rows.append(row)
        add_ratios(rows, args.baseline)
    if args.onnx or args.suite == 'onnx':
        os.makedirs(args.out_dir, exist_ok=True)
        rows += onnx_suite(args.repeats, args.threads, args.out_dir)
    for r in rows:
        r['device_name'] = device_name
    print_table(rows)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'benchmark.json'), 'w') as f:
        json.dump(dict(device=device_name, torch=torch.__version__, rows=rows), f, indent=1)
    plot(rows, osp.join(args.out_dir, 'benchmark.png'))
    print(f'\nWrote {args.out_dir}/benchmark.json and benchmark.png')


if __name__ == '__main__':
    main()
