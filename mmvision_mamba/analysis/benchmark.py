"""Benchmark runners: the selective scan, MambaVision against mmdet's Swin-T and ResNet-50 and the cost of the
detection windows, each comparison timed interleaved (tools/analysis_tools/benchmark.py runs them; ONNX Runtime:
`mmvision_mamba/deployment/onnx_benchmark.py`).

Timing: the models of one comparison are built in one process and timed call by call, round-robin
(`mmvision_mamba.utils.timing.interleave`: each warmed up first, the starting model rotating every round), so that
machine noise falls on all of them alike. Each row holds the median time per model and the median over rounds of the
per-round ratio to the baseline, with its min-max spread (`ratio_stats`).

Peak memory: on CUDA the allocator's peak of one step of each model (reset between models), above what was allocated
before it, plus the model's weights and input (:func:`cuda_peak_mib`); on the CPU the peak resident memory above the
idle model of one step in a fresh process per model (:func:`cpu_peak_mib`; in a shared process it would mix the
models). Progress goes to mmengine's current logger.
"""
import multiprocessing as mp
import resource
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from ..testing import demo_det_inputs, scan_inputs
from ..utils.timing import Timer, interleave, ratio_stats

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}
SIZES = {'cls': (224, 224), 'det': (800, 1344), 'det640': (640, 640), 'seg': (512, 512)}
SCAN_SHAPES = [(8, 160, 196), (1, 160, 196), (8, 320, 49)]  # MambaVision-T levels 2 and 3 at 224 px
CLS_WINDOWS, DET_WINDOWS = '8,8,14,7', '8,8,112,56'
# baseline first
WINDOW_MODELS = [f'mambavision_tiny@{CLS_WINDOWS}', f'mambavision_tiny@{DET_WINDOWS}',
                 f'mambavision_tiny@{DET_WINDOWS}@fit']


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


def build_backbone(name: str) -> nn.Module:
    """The backbone of :func:`backbone_cfg` (mmdet's are registered first)."""
    import importlib

    from mmengine.registry import MODELS

    cfg = backbone_cfg(name)
    if cfg['type'].startswith('mmdet.'):
        importlib.import_module('mmdet.models')
    else:
        importlib.import_module('mmvision_mamba.models')
    return MODELS.build(cfg)


def scan_suite(device: torch.device, repeats: int) -> List[dict]:
    """Every scan backend on `device` vs the reference, fp32, as the mixer calls it, interleaved."""
    from mmvision_mamba.ops import available_backends, selective_scan

    rows, timer = [], Timer(device)
    for batch, dim, length in SCAN_SHAPES:
        x = scan_inputs(batch, dim, 8, length, dtype=torch.float32, z=False, layout='mixer')
        x = {k: v.detach().to(device).requires_grad_() for k, v in x.items() if v is not None}
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


def make_step(model: nn.Module, x: torch.Tensor, mode: str, dtype: str,
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


def cuda_peak_mib(step: Callable[[], None], model: nn.Module, inputs: List[torch.Tensor]) -> float:
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
        print_log(f'  peak memory of {kwargs["name"]} failed: {result}', logger='current')
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
                        dtype=dtype, batch=batch, compiled=compiled, **rows[name]))
        r = out[-1]
        print_log(f"  {name} {r['hw']} {mode} {dtype} b{batch}{' compiled' if compiled else ''}: "
                  + (f"{r['ms']:.1f} ms, {key} {r[key]:.3g} ({r[key + '_min']:.3g}-{r[key + '_max']:.3g})"
                     if 'ms' in r else r['error']), logger='current')
    return out


def compare_train_steps(models: Dict[str, nn.Module], batch: dict, device: torch.device, repeats: int,
                        baseline: str, warmup: int = 1) -> Dict[str, dict]:
    """Training steps (`train_step` with SGD) of mmengine models on one batch, interleaved.

    Returns:
        {name: ratio_stats row}, ratio key `time_vs_<baseline>`; on CUDA with `peak_mib`.
    """
    from mmengine.optim import OptimWrapper

    steps = {}
    for name, model in models.items():
        model.train()
        wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4))

        def step(model: nn.Module = model, wrapper: OptimWrapper = wrapper) -> None:
            model.train_step(batch, wrapper)
        steps[name] = step
    stats = ratio_stats(interleave(steps, Timer(device), repeats, warmup), baseline, f'time_vs_{baseline}')
    if device.type == 'cuda':
        for name in models:
            stats[name]['peak_mib'] = cuda_peak_mib(steps[name], models[name], batch['inputs'])
    return stats


def compare_mask_rcnn(models: Dict[str, nn.Module], size: Tuple[int, int], num_images: int, device: torch.device,
                      repeats: int, warmup: int = 1) -> List[dict]:
    """Mask R-CNN-T training steps with the official detection windows vs window_mode='fit' (`models`: 'fit' and
    'official', built on `device`), on a made-up batch of `num_images` at `size`; time_vs_fit: time / fit's time."""
    batch = demo_det_inputs(num_images, size, device=device)
    rows = []
    for mode, st in compare_train_steps(models, batch, device, repeats, 'fit', warmup).items():
        row = dict(suite='windows', model=f'mask_rcnn_mambavision_t@{mode}', size='det640',
                   hw='x'.join(map(str, size)), mode='train', dtype='fp32', batch=num_images, compiled=False,
                   baseline='fit', **st)
        rows.append(row)
        print_log(f"  Mask R-CNN-T {mode} {row['hw']} train b{num_images}: {row['ms']:.0f} ms, time_vs_fit "
                  f"{row['time_vs_fit']:.3g} ({row['time_vs_fit_min']:.3g}-{row['time_vs_fit_max']:.3g})",
                  logger='current')
    return rows


def windows_suite(sizes: List[str], modes: List[str], device: torch.device, repeats: int, threads: int,
                  cpu_memory: bool, mask_rcnn: Optional[Dict[str, nn.Module]] = None, mask_rcnn_images: int = 1,
                  warmup: int = 1) -> List[dict]:
    """The T trunk with the official detection windows, fit mode and the classification windows,
    then (given `mask_rcnn`, see :func:`compare_mask_rcnn`) the Mask R-CNN-T training step at 640x640."""
    rows = []
    for size in sizes:
        for mode in modes:
            for r in compare_backbones(WINDOW_MODELS, WINDOW_MODELS[0], size, mode, 'fp32', 1, False,
                                       device, repeats, threads, cpu_memory, 'time_vs_cls_windows', False,
                                       warmup):
                rows.append(dict(r, suite='windows'))
    if mask_rcnn:
        rows += compare_mask_rcnn(mask_rcnn, SIZES['det640'], mask_rcnn_images, device, repeats, warmup)
    return rows
