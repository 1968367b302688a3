"""Speed and memory of the selective scan and of the MambaVision backbone against mmdet's Swin-T and
ResNet-50, and the cost of MambaVision's detection windows, each comparison timed interleaved.

    python tools/analysis_tools/benchmark.py                           # scan + backbones at 224 px, fp32
    python tools/analysis_tools/benchmark.py --suite backbone --sizes cls det seg --modes infer train \\
        --dtypes fp32 bf16 --compile --out-dir work_dirs/benchmark
    python tools/analysis_tools/benchmark.py --suite windows --repeats 5  # detection windows: official / fit / cls

Scan: every backend that runs on the device vs the PyTorch reference, forward and forward+backward,
at MambaVision-T's stage shapes. Backbones: latency, images/s, inference and a training step
(forward + backward + SGD), eager and compiled, vs --baseline (speed_vs_*: baseline time / time).
Windows: the T trunk at 800x1344, 640x640 and 512x512 with the official detection windows
(8, 8, 112, 56), the same windows with window_mode='fit', and the classification windows (8, 8, 14, 7)
(time_vs_cls_windows: time / the classification windows' time), and a Mask R-CNN-T training step
(configs/det/mask_rcnn_mambavision_t.py) at 640x640 with the official windows vs fit mode.
Timing (interleaved rounds) and peak memory: see mmvision_mamba/analysis/benchmark.py.
Writes benchmark.json and benchmark.png to --out-dir and prints a table.
"""
import argparse
import json
import os
import os.path as osp
import platform
import time
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from mmvision_mamba.analysis import benchmark as bench
from mmvision_mamba.analysis.benchmark_report import format_table, plot_rows
from mmvision_mamba.apis import init_model
from mmvision_mamba.deployment.onnx_benchmark import onnx_suite

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MASK_RCNN_CFG = osp.join(ROOT, 'configs', 'det', 'mask_rcnn_mambavision_t.py')


def mask_rcnn_models(device: torch.device) -> Dict[str, nn.Module]:
    """The shipped Mask R-CNN-T with window_mode 'fit' and 'official' (same seed, initialised as for training)."""
    models = {}
    for mode in ('fit', 'official'):
        torch.manual_seed(0)
        models[mode] = init_model(MASK_RCNN_CFG, device=str(device), cfg_options={
            'model.backbone.init_cfg': None, 'model.backbone.window_mode': mode})
        models[mode].init_weights()
    return models


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--suite', choices=['scan', 'backbone', 'windows', 'onnx', 'all'], default='all',
                        help="'all': scan and backbone")
    parser.add_argument('--models', nargs='+', default=['mambavision_tiny', 'swin_t', 'resnet50'],
                        help='backbone suite: mambavision_<arch>[@w1,w2,w3,w4][@fit], swin_t, resnet50')
    parser.add_argument('--baseline', default='swin_t', help='backbone suite: model the ratios refer to')
    parser.add_argument('--sizes', nargs='+', choices=list(bench.SIZES),
                        help=f'{bench.SIZES}; default: cls (backbone suite), det det640 seg (windows suite)')
    parser.add_argument('--modes', nargs='+', choices=['infer', 'train'],
                        help='default: infer (backbone suite), infer train (windows suite)')
    parser.add_argument('--dtypes', nargs='+', choices=list(bench.DTYPES), default=['fp32'])
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
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    device_name = torch.cuda.get_device_name(device) if device.type == 'cuda' else \
        f'{platform.processor() or platform.machine()} CPU, {args.threads} threads'
    print(f'Device: {device_name}; torch {torch.__version__}; {args.repeats} interleaved rounds')

    rows: List[dict] = []
    t0 = time.perf_counter()
    if args.suite in ('scan', 'all'):
        rows += bench.scan_suite(device, args.repeats * 3)
    if args.suite in ('backbone', 'all'):
        for size in args.sizes or ['cls']:
            for mode in args.modes or ['infer']:
                for dtype in args.dtypes:
                    for batch in args.batch:
                        for compiled in ([False, True] if args.compile else [False]):
                            rows += bench.compare_backbones(
                                args.models, args.baseline, size, mode, dtype, batch, compiled, device, args.repeats,
                                args.threads, args.cpu_memory, f'speed_vs_{args.baseline}', True, args.warmup)
    if args.suite == 'windows':
        mask_rcnn = mask_rcnn_models(device) if args.mask_rcnn_images else None
        rows += bench.windows_suite(args.sizes or ['det', 'det640', 'seg'], args.modes or ['infer', 'train'], device,
                                    args.repeats, args.threads, args.cpu_memory, mask_rcnn, args.mask_rcnn_images,
                                    args.warmup)
    if args.onnx or args.suite == 'onnx':
        os.makedirs(args.out_dir, exist_ok=True)
        rows += onnx_suite(bench.build_backbone('mambavision_tiny'), args.repeats, args.threads, args.out_dir,
                           args.warmup)
    for r in rows:
        r['device_name'] = device_name
    print('\n' + format_table(rows))
    if device.type == 'cpu' and not args.cpu_memory and args.suite != 'scan':
        print('\n(peak memory on the CPU: pass --cpu-memory)')
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'benchmark.json'), 'w') as f:
        json.dump(dict(device=device_name, torch=torch.__version__, repeats=args.repeats,
                       seconds=time.perf_counter() - t0, rows=rows), f, indent=1)
    written = ['benchmark.json']
    if plot_rows(rows, 'backbone', 'img_per_s', osp.join(args.out_dir, 'benchmark.png')):
        written.append('benchmark.png')
    if plot_rows(rows, 'windows', 'ms', osp.join(args.out_dir, 'windows.png'), log=True):
        written.append('windows.png')
    print(f'\nWrote {", ".join(osp.join(args.out_dir, w) for w in written)} '
          f'({time.perf_counter() - t0:.0f} s)')


if __name__ == '__main__':
    main()
