"""Speed and memory of the selective scan and of the MambaVision backbone against mmdet's Swin-T and
ResNet-50, and the cost of MambaVision's detection windows, each comparison timed interleaved.

    python tools/analysis_tools/benchmark.py                           # scan + backbones at 224 px, fp32
    python tools/analysis_tools/benchmark.py --suite backbone --sizes cls det seg --modes infer train \\
        --dtypes fp32 bf16 --compile --out-dir work_dirs/benchmark
    python tools/analysis_tools/benchmark.py --suite windows --repeats 5  # detection windows: official / fit / cls

Timing: the models of one comparison are built in one process and timed call by call, round-robin
(each warmed up first, the starting model rotating every round), so that machine noise falls on all of
them alike. Each row reports the median time per model and the median over rounds of the per-round
ratio to the baseline, with its min-max spread.

Scan: every backend that runs on the device vs the PyTorch reference, forward and forward+backward,
at MambaVision-T's stage shapes. Backbones: latency, images/s, inference and a training step
(forward + backward + SGD), eager and compiled, vs --baseline (speed_vs_*: baseline time / time).
Windows: the T trunk at 800x1344, 640x640 and 512x512 with the official detection windows
(8, 8, 112, 56), the same windows with window_mode='fit', and the classification windows (8, 8, 14, 7)
(time_vs_cls_windows: time / the classification windows' time), and a Mask R-CNN-T training step
(configs/det/mask_rcnn_mambavision_t.py) at 640x640 with the official windows vs fit mode.
Peak memory: on CUDA the allocator's peak of one step of each model (reset between models), above
what was allocated before it, plus the model's weights and input; on the CPU (--cpu-memory) the peak
resident memory above the idle model of one step in a fresh process per model (in a shared process it
would mix the models).
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
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from mmvision_mamba.utils.timing import Timer

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}
SIZES = {'cls': (224, 224), 'det': (800, 1344), 'det640': (640, 640), 'seg': (512, 512)}
SCAN_SHAPES = [(8, 160, 196), (1, 160, 196), (8, 320, 49)]  # MambaVision-T levels 2 and 3 at 224 px
CLS_WINDOWS, DET_WINDOWS = '8,8,14,7', '8,8,112,56'
# baseline first
WINDOW_MODELS = [f'mambavision_tiny@{CLS_WINDOWS}', f'mambavision_tiny@{DET_WINDOWS}',
                 f'mambavision_tiny@{DET_WINDOWS}@fit']
MASK_RCNN_CFG = osp.join(ROOT, 'configs', 'det', 'mask_rcnn_mambavision_t.py')


def backbone_cfg(name: str) -> dict:
    """mmengine config of a backbone: mambavision_<arch>[@w1,w2,w3,w4][@fit], swin_t or resnet50."""
    if name.startswith('mambavision_'):
        arch, *options = name[len('mambavision_'):].split('@')
        cfg = dict(type='MambaVision', arch=arch)
        for opt in options:
            if opt in ('fit', 'official'):
                cfg['window_mode'] = opt
            else:
                cfg['window_size'] = tuple(int(w) for w in opt.split(','))
        return cfg
    if name == 'swin_t':
        return dict(type='mmdet.SwinTransformer', embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                    window_size=7, drop_path_rate=0.2, out_indices=(0, 1, 2, 3))
    if name == 'resnet50':
        return dict(type='mmdet.ResNet', depth=50, out_indices=(0, 1, 2, 3), norm_eval=False)
    raise ValueError(f'Unknown model {name!r}: mambavision_<arch>[@w1,w2,w3,w4][@fit], swin_t or resnet50.')


def build_backbone(name: str) -> torch.nn.Module:
    from mmengine.registry import MODELS

    import mmvision_mamba  # noqa: F401
    cfg = backbone_cfg(name)
    if cfg['type'].startswith('mmdet.'):
        import mmdet.models  # noqa: F401  (registers mmdet's backbones)
    return MODELS.build(cfg)


def interleave(fns: Dict[str, Callable[[], object]], timer: Timer, rounds: int,
               warmup: int = 1) -> Dict[str, List[float]]:
    """Times the callables call by call, round-robin, in this process: {name: [ms of each round]}.

    Each is warmed up first; every round starts one model later, so that no model always runs
    first (or right after the same other one).
    """
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(rounds):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            times[name].append(timer(fns[name]))
    return times


def ratio_stats(times: Dict[str, List[float]], baseline: str, key: str,
                invert: bool = False) -> Dict[str, dict]:
    """Per name: median ms and the median, min, max (and quartiles from 4 rounds) over rounds of
    time / baseline's time of the same round (`invert`: baseline's time / time, a speed ratio)."""
    out = {}
    for name, ts in times.items():
        per_round = [(b / t if invert else t / b) for t, b in zip(ts, times[baseline])]
        out[name] = {'ms': statistics.median(ts), key: statistics.median(per_round),
                     f'{key}_min': min(per_round), f'{key}_max': max(per_round), 'rounds': len(ts)}
        if len(per_round) >= 4:  # interquartile range: the spread without the odd disturbed round
            out[name][f'{key}_q1'], _, out[name][f'{key}_q3'] = statistics.quantiles(per_round, n=4)
    return out


def scan_suite(device: torch.device, repeats: int) -> List[dict]:
    """Every scan backend on `device` vs the reference, fp32, as the mixer calls it, interleaved."""
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
        backends = ['reference'] + [b for b in available_backends(x['u']) if b != 'reference']

        def fwd(backend: str) -> Callable[[], None]:
            def fn() -> None:
                with torch.no_grad():
                    selective_scan(**x, delta_softplus=True, backend=backend)
            return fn

        def fwd_bwd(backend: str) -> Callable[[], None]:
            def fn() -> None:
                torch.autograd.grad(selective_scan(**x, delta_softplus=True, backend=backend),
                                    list(x.values()), dout)
            return fn

        for mode, make in (('fwd', fwd), ('fwd+bwd', fwd_bwd)):
            times = interleave({b: make(b) for b in backends}, timer, repeats, warmup=2)
            for backend, st in ratio_stats(times, 'reference', 'speedup_vs_reference', invert=True).items():
                rows.append(dict(suite='scan', shape=f'{batch}x{dim}x{length} N=8', backend=backend, mode=mode,
                                 **st))
    return rows


def onnx_suite(repeats: int, threads: int, out_dir: str, warmup: int = 1, opsets: Sequence[int] = (18, 23)
               ) -> List[dict]:
    """MambaVision-T (classification windows) on the CPU: ONNX Runtime vs eager PyTorch, fp32, batch 1 at 224 and
    512 px from one dynamic export per opset (23: attention as one `Attention` op), timed interleaved
    (`interleave`); ratio = eager / ORT time per round."""
    from mmvision_mamba.deployment import OnnxRuntimeModel, count_nodes, export_onnx
    from mmvision_mamba.utils.tensor_error import max_errors

    model = build_backbone('mambavision_tiny').eval()
    sessions, export_s, nodes = {}, {}, {}
    for opset in opsets:
        path = osp.join(out_dir, f'mambavision_tiny_opset{opset}.onnx')
        start = time.perf_counter()
        export_onnx(model, torch.randn(1, 3, 224, 224), path, dynamic=True, opset_version=opset)
        export_s[opset] = time.perf_counter() - start
        nodes[opset] = count_nodes(path)
        sessions[opset] = OnnxRuntimeModel(path, threads)
    rows = []
    for size in (224, 512):
        x = torch.randn(1, 3, size, size)
        with torch.no_grad():
            ref = model(x)
            errors = {opset: max_errors(ref, session(x))[1] for opset, session in sessions.items()}
            fns = {'eager': lambda: model(x)}
            fns.update({f'ort{opset}': (lambda s=session: s(x)) for opset, session in sessions.items()})
            times = interleave(fns, Timer(x.device), repeats, warmup)
        for opset in opsets:
            stats = ratio_stats({'eager': times['eager'], 'ort': times[f'ort{opset}']}, 'ort', 'ort_speedup')
            rows.append(dict(suite='onnx', model='mambavision_tiny', size=f'{size}x{size}', batch=1, opset=opset,
                             eager_ms=stats['eager']['ms'], ort_ms=stats['ort']['ms'],
                             **{k: v for k, v in stats['eager'].items() if k.startswith('ort_speedup')},
                             max_rel_err=errors[opset], export_s=export_s[opset], onnx_nodes=nodes[opset]['total'],
                             scan_nodes=nodes[opset].get('Scan', 0)))
            print(f"  onnx mambavision_tiny {size}x{size} opset {opset}: eager {rows[-1]['eager_ms']:.1f} ms, "
                  f"ONNX Runtime {rows[-1]['ort_ms']:.1f} ms (median speed-up {rows[-1]['ort_speedup']:.2f}x)",
                  flush=True)
    return rows


def make_step(model: torch.nn.Module, x: torch.Tensor, mode: str, dtype: str,
              compiled: bool) -> Callable[[], None]:
    """One inference call (no grad) or training step (forward + backward + SGD) of a backbone."""
    model.train(mode == 'train')
    fn_model = torch.compile(model) if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=1e-3) if mode == 'train' else None
    autocast = torch.autocast(x.device.type, dtype=DTYPES[dtype], enabled=dtype != 'fp32')

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
    return step


def cuda_peak_mib(step: Callable[[], None], model: torch.nn.Module, inputs: List[torch.Tensor]) -> float:
    """The allocator's peak during one step above what was allocated before it, plus the model's
    weights and inputs: what the step needs with this model alone on the device."""
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    own = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers(), *inputs])
    return (torch.cuda.max_memory_allocated() - before + own) / 2 ** 20


def cpu_peak_case(name: str, size: Tuple[int, int], mode: str, dtype: str, batch: int, compiled: bool,
                  threads: int) -> float:
    """Peak resident memory (MiB) above the idle model of two steps of one backbone; run it in a
    fresh process, since the peak of a process is its largest so far."""
    torch.set_num_threads(threads)
    model = build_backbone(name)
    step = make_step(model, torch.randn(batch, 3, *size), mode, dtype, compiled)
    idle_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step()
    step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - idle_kib) / 1024


def _child(queue: mp.Queue, kwargs: dict) -> None:
    try:
        queue.put(cpu_peak_case(**kwargs))
    except Exception as e:  # noqa: BLE001 - report the failure in the table, go on
        queue.put(f'{type(e).__name__}: {e}'[:200])


def cpu_peak_mib(**kwargs) -> Optional[float]:
    """`cpu_peak_case` in a spawned process; None (and a message) if it failed."""
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, kwargs))
    proc.start()
    result = queue.get()
    proc.join()
    if isinstance(result, str):
        print(f'  peak memory of {kwargs["name"]} failed: {result}')
        return None
    return result


def compare_backbones(names: List[str], baseline: str, size_name: str, mode: str, dtype: str,
                      batch: int, compiled: bool, device: torch.device, repeats: int, threads: int,
                      cpu_memory: bool, key: str, invert: bool, warmup: int = 1) -> List[dict]:
    """Builds the backbones in this process, times them interleaved; one row each (errors too)."""
    size = SIZES[size_name]
    x = torch.randn(batch, 3, *size, device=device)
    if device.type == 'cuda':
        x = x.to(memory_format=torch.channels_last)
    steps, models, rows = {}, {}, {}
    for name in names:
        try:
            model = build_backbone(name).to(device)
            if device.type == 'cuda':
                model = model.to(memory_format=torch.channels_last)
            models[name], steps[name] = model, make_step(model, x, mode, dtype, compiled)
        except Exception as e:  # noqa: BLE001 - report the failure in the table, go on
            rows[name] = dict(error=f'{type(e).__name__}: {e}'[:200])
    if baseline not in steps:
        baseline = next(iter(steps), None)
    if steps:
        times = interleave(steps, Timer(device), repeats, warmup)
        for name, st in ratio_stats(times, baseline, key, invert).items():
            rows[name] = dict(st, img_per_s=batch * 1e3 / st['ms'], baseline=baseline)
            if device.type == 'cuda':
                rows[name]['peak_mib'] = cuda_peak_mib(steps[name], models[name], [x])
            elif cpu_memory:
                rows[name]['peak_mib'] = cpu_peak_mib(name=name, size=size, mode=mode, dtype=dtype, batch=batch,
                                                      compiled=compiled, threads=threads)
    out = []
    for name in names:
        out.append(dict(suite='backbone', model=name, size=size_name, hw='x'.join(map(str, size)), mode=mode,
                        dtype=dtype,
                        batch=batch, compiled=compiled, **rows[name]))
        r = out[-1]
        print(f"  {name} {r['hw']} {mode} {dtype} b{batch}{' compiled' if compiled else ''}: "
              + (f"{r['ms']:.1f} ms, {key} {r[key]:.3g} ({r[key + '_min']:.3g}-{r[key + '_max']:.3g})"
                 if 'ms' in r else r['error']), flush=True)
    return out


def det_batch(size: Tuple[int, int], num_images: int, device: torch.device) -> dict:
    """A synthetic mmdet batch: random uint8 images, two boxes with masks each."""
    import numpy as np
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    h, w = size
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for i in range(num_images):
        boxes = torch.tensor([[0.1 * w, 0.1 * h, 0.5 * w, 0.6 * h], [0.4 * w, 0.3 * h, 0.9 * w, 0.9 * h]])
        masks = np.zeros((2, h, w), dtype=np.uint8)
        for k, (x0, y0, x1, y1) in enumerate(boxes.int().tolist()):
            masks[k, y0:y1, x0:x1] = 1
        sample = DetDataSample(metainfo=dict(img_id=i, img_shape=size, ori_shape=size, pad_shape=size,
                                             batch_input_shape=size, scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.tensor([0, 1]),
                                           masks=BitmapMasks(masks, h, w))
        inputs.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g).to(device))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def compare_mask_rcnn(size: Tuple[int, int], num_images: int, device: torch.device, repeats: int,
                      warmup: int = 1) -> List[dict]:
    """A Mask R-CNN-T training step (the shipped config's model, SGD) with the official detection
    windows vs window_mode='fit', interleaved; time_vs_fit: time / fit's time."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper

    register_all_modules(init_default_scope=True)
    steps, models, batch = {}, {}, det_batch(size, num_images, device)
    for mode in ('fit', 'official'):
        cfg = Config.fromfile(MASK_RCNN_CFG)
        cfg.model.backbone.update(init_cfg=None, window_mode=mode)
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).to(device)
        model.init_weights()
        model.train()
        wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4))

        def step(model=model, wrapper=wrapper) -> None:
            model.train_step(batch, wrapper)
        models[mode], steps[mode] = model, step
    times = interleave(steps, Timer(device), repeats, warmup)
    rows = []
    for mode, st in ratio_stats(times, 'fit', 'time_vs_fit').items():
        row = dict(suite='windows', model=f'mask_rcnn_mambavision_t@{mode}', size='det640',
                   hw='x'.join(map(str, size)), mode='train', dtype='fp32', batch=num_images, compiled=False,
                   baseline='fit', **st)
        if device.type == 'cuda':
            row['peak_mib'] = cuda_peak_mib(steps[mode], models[mode], batch['inputs'])
        rows.append(row)
        print(f"  Mask R-CNN-T {mode} {row['hw']} train b{num_images}: {row['ms']:.0f} ms, time_vs_fit "
              f"{row['time_vs_fit']:.3g} ({row['time_vs_fit_min']:.3g}-{row['time_vs_fit_max']:.3g})", flush=True)
    return rows


def windows_suite(sizes: List[str], modes: List[str], device: torch.device, repeats: int, threads: int,
                  cpu_memory: bool, mask_rcnn_images: int, warmup: int = 1) -> List[dict]:
    """The T trunk with the official detection windows, fit mode and the classification windows,
    then the Mask R-CNN-T training step at 640x640, official vs fit."""
    rows = []
    for size in sizes:
        for mode in modes:
            for r in compare_backbones(WINDOW_MODELS, WINDOW_MODELS[0], size, mode, 'fp32', 1, False,
                                       device, repeats, threads, cpu_memory, 'time_vs_cls_windows', False,
                                       warmup):
                rows.append(dict(r, suite='windows'))
    if mask_rcnn_images:
        rows += compare_mask_rcnn(SIZES['det640'], mask_rcnn_images, device, repeats, warmup)
    return rows


def print_table(rows: List[dict]) -> None:
    for suite in ('scan', 'backbone', 'windows', 'onnx'):
        sel = [r for r in rows if r['suite'] == suite]
        if not sel:
            continue
        cols = [c for c in sel[0] if c not in ('suite', 'device_name')]
        cols += sorted({c for r in sel for c in r} - set(sel[0]))
        widths = {c: max(len(c), *(len(fmt(r.get(c))) for r in sel)) for c in cols}
        print('\n' + '  '.join(c.rjust(widths[c]) for c in cols))
        for r in sel:
            print('  '.join(fmt(r.get(c)).rjust(widths[c]) for c in cols))


def fmt(v: object) -> str:
    return f'{v:.3g}' if isinstance(v, float) else ('' if v is None else str(v))


def plot(rows: List[dict], suite: str, value: str, path: str, log: bool = False) -> bool:
    """Grouped bars of `value` per model and case; False if there is nothing to plot."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    sel = [r for r in rows if r['suite'] == suite and value in r]
    if not sel:
        return False

    def label(r: dict) -> str:
        return f"{r['hw']} {r['mode']} {r['dtype']}{' compiled' if r['compiled'] else ''}"

    labels = list(dict.fromkeys(label(r) for r in sel))
    models = list(dict.fromkeys(r['model'] for r in sel))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels)), 4))
    width = 0.8 / len(models)
    for i, m in enumerate(models):
        vals = [next((r[value] for r in sel if r['model'] == m and label(r) == lab), 0) for lab in labels]
        ax.bar([j + i * width for j in range(len(labels))], vals, width, label=m)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))], labels, rotation=20, ha='right')
    ax.set_ylabel(value)
    if log:
        ax.set_yscale('log')
    ax.set_title(f'{suite} on {rows[0].get("device_name", "")} (interleaved medians)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--suite', choices=['scan', 'backbone', 'windows', 'onnx', 'all'], default='all',
                        help="'all': scan and backbone")
    parser.add_argument('--models', nargs='+', default=['mambavision_tiny', 'swin_t', 'resnet50'],
                        help='backbone suite: mambavision_<arch>[@w1,w2,w3,w4][@fit], swin_t, resnet50')
    parser.add_argument('--baseline', default='swin_t', help='backbone suite: model the ratios refer to')
    parser.add_argument('--sizes', nargs='+', choices=list(SIZES),
                        help=f'{SIZES}; default: cls (backbone suite), det det640 seg (windows suite)')
    parser.add_argument('--modes', nargs='+', choices=['infer', 'train'],
                        help='default: infer (backbone suite), infer train (windows suite)')
    parser.add_argument('--dtypes', nargs='+', choices=list(DTYPES), default=['fp32'])
    parser.add_argument('--batch', type=int, nargs='+', default=[1],
                        help='batch sizes (e.g. 128 for GPU classification throughput)')
    parser.add_argument('--compile', action='store_true', help='also time torch.compile of each backbone')
    parser.add_argument('--onnx', action='store_true',
                        help='also export MambaVision-T to ONNX and time ONNX Runtime against eager (CPU)')
    parser.add_argument('--repeats', type=int, default=10, help='timed rounds per comparison (scan: x3)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed calls of each model first')
    parser.add_argument('--mask-rcnn-images', type=int, default=1,
                        help='windows suite: images in the Mask R-CNN-T training batch (0: skip it)')
    parser.add_argument('--cpu-memory', action='store_true',
                        help='on the CPU also measure peak memory, one fresh process per model')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out-dir', default='work_dirs/benchmark')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    device_name = torch.cuda.get_device_name(device) if device.type == 'cuda' else \
        f'{platform.processor() or platform.machine()} CPU, {args.threads} threads'
    print(f'Device: {device_name}; torch {torch.__version__}; {args.repeats} interleaved rounds')

    rows: List[dict] = []
    t0 = time.perf_counter()
    if args.suite in ('scan', 'all'):
        rows += scan_suite(device, args.repeats * 3)
    if args.suite in ('backbone', 'all'):
        for size in args.sizes or ['cls']:
            for mode in args.modes or ['infer']:
                for dtype in args.dtypes:
                    for batch in args.batch:
                        for compiled in ([False, True] if args.compile else [False]):
                            rows += compare_backbones(args.models, args.baseline, size, mode, dtype, batch,
                                                      compiled, device, args.repeats, args.threads,
                                                      args.cpu_memory, f'speed_vs_{args.baseline}', True,
                                                      args.warmup)
    if args.suite == 'windows':
        rows += windows_suite(args.sizes or ['det', 'det640', 'seg'], args.modes or ['infer', 'train'], device,
                              args.repeats, args.threads, args.cpu_memory, args.mask_rcnn_images, args.warmup)
    if args.onnx or args.suite == 'onnx':
        os.makedirs(args.out_dir, exist_ok=True)
        rows += onnx_suite(args.repeats, args.threads, args.out_dir, args.warmup)
    for r in rows:
        r['device_name'] = device_name
    print_table(rows)
    if device.type == 'cpu' and not args.cpu_memory and args.suite != 'scan':
        print('\n(peak memory on the CPU: pass --cpu-memory)')
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'benchmark.json'), 'w') as f:
        json.dump(dict(device=device_name, torch=torch.__version__, repeats=args.repeats,
                       seconds=time.perf_counter() - t0, rows=rows), f, indent=1)
    written = ['benchmark.json']
    if plot(rows, 'backbone', 'img_per_s', osp.join(args.out_dir, 'benchmark.png')):
        written.append('benchmark.png')
    if plot(rows, 'windows', 'ms', osp.join(args.out_dir, 'windows.png'), log=True):
        written.append('windows.png')
    print(f'\nWrote {", ".join(osp.join(args.out_dir, w) for w in written)} '
          f'({time.perf_counter() - t0:.0f} s)')


if __name__ == '__main__':
    main()
