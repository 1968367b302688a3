"""Export a MambaVision model (backbone, mmseg segmentor or mmdet detector) to ONNX and check it in ONNX Runtime.

    python tools/deployment/pytorch2onnx.py CONFIG [CHECKPOINT] --shape H W [--dynamic] [--backbone-only] \\
        [--out FILE] [--opset N] [--batch N] [--repeats N] [--threads N] [--cfg-options k=v ...]

What is exported (the graph takes the normalised (N, 3, H, W) image, as the model's data preprocessor makes it):
- a MambaVision config (model.type='MambaVision') or --backbone-only: the backbone's feature maps;
- an mmseg EncoderDecoder (e.g. UperNet): the decode head's logits resized to the image, (N, classes, H, W);
- an mmdet single-stage detector (e.g. RetinaNet): the head's raw outputs (scores and box deltas per level);
- an mmdet two-stage detector (e.g. Mask R-CNN): the backbone + neck features and the RPN head's raw outputs;
  proposals, RoI heads and all post-processing stay in Python (see docs/en/user_guides/deployment.md).

The file is then run in ONNX Runtime on the same input; the tool prints the max absolute / relative error against
PyTorch and both latencies. Without CHECKPOINT the weights are random (no download). `--opset 23` writes the
attention as ONNX `Attention` and GELU as `Gelu` (faster in ONNX Runtime; needs a runtime with opset 23).
"""
import argparse
import os.path as osp
import time
from typing import Optional, Sequence

import torch
from mmengine.config import DictAction

from mmvision_mamba.apis import init_model
from mmvision_mamba.deployment import (MIN_SIZE, OPSET, check_opset, compare_with_onnxruntime, count_nodes,
                                       export_onnx, export_target)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='mmdet / mmseg / backbone config file (.py)')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint to load (default: random weights)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'), required=True,
                        help='height and width of the example input')
    parser.add_argument('--batch', type=int, default=1, help='batch size of the example input')
    parser.add_argument('--dynamic', action='store_true',
                        help=f'dynamic batch, height and width (any size >= {MIN_SIZE} px)')
    parser.add_argument('--backbone-only', action='store_true', help='export the backbone alone')
    parser.add_argument('--out', help='output .onnx file (default: work_dirs/onnx/<config name>.onnx)')
    parser.add_argument('--opset', type=int, default=OPSET,
                        help=f'ONNX opset, {OPSET} (default) or newer; 23 exports the attention as one Attention op')
    parser.add_argument('--repeats', type=int, default=10, help='timed runs for the latencies')
    parser.add_argument('--threads', type=int, default=None, help='CPU threads for PyTorch and ONNX Runtime')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        parser.error(f'config file {args.config!r} does not exist.')
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint!r} does not exist (omit it to export random weights).')
    low = MIN_SIZE if args.dynamic else 32
    if min(args.shape) < low:
        parser.error(f'--shape {args.shape[0]} {args.shape[1]}: height and width must be >= {low}'
                     + (' for a dynamic export' if args.dynamic else '') + '.')
    if args.batch < 1 or args.repeats < 1 or (args.threads is not None and args.threads < 1):
        parser.error('--batch, --repeats and --threads must be positive.')
    try:
        check_opset(args.opset)
    except ImportError:
        pass  # export_onnx names the missing extra
    except ValueError as err:
        parser.error(f'--{err}')
    if args.out is not None and not args.out.endswith('.onnx'):
        parser.error(f'--out {args.out!r}: the output file must end with .onnx.')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        model = init_model(args.config, args.checkpoint, cfg_options=args.cfg_options)
        target, what = export_target(model, args.backbone_only)
    except ValueError as e:
        raise SystemExit(f'error: {args.config}: {e}') from e
    out = args.out or osp.join('work_dirs', 'onnx', osp.splitext(osp.basename(args.config))[0]
                               + ('_backbone' if args.backbone_only else '') + '.onnx')
    img = torch.randn(args.batch, 3, *args.shape, generator=torch.Generator().manual_seed(0))
    print(f'Exporting {type(target).__name__} ({what}) at {tuple(img.shape)}'
          f'{", dynamic batch/H/W" if args.dynamic else ""} -> {out}', flush=True)
    start = time.perf_counter()
    with torch.no_grad():
        export_onnx(target, img, out, dynamic=args.dynamic, opset_version=args.opset)
    export_s = time.perf_counter() - start
    nodes = count_nodes(out)
    check = compare_with_onnxruntime(target, img, out, args.repeats, args.threads)
    print(f'Exported in {export_s:.1f} s: {nodes["total"]} ONNX nodes ({nodes.get("Scan", 0)} Scan).\n'
          f'ONNX Runtime vs PyTorch on {tuple(img.shape)}: {check["outputs"]} outputs, max abs error '
          f'{check["abs_err"]:.3g}, max rel error {check["rel_err"]:.3g}\n'
          f'Latency (median of {args.repeats}): PyTorch {check["torch_ms"]:.1f} ms, ONNX Runtime '
          f'{check["ort_ms"]:.1f} ms')
    return dict(check, model=target, out=out, export_s=export_s, nodes=nodes)


if __name__ == '__main__':
    main()
