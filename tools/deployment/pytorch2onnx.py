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
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmvision_mamba.deployment import (MIN_SIZE, OPSET, OnnxRuntimeModel, check_opset, count_nodes, export_onnx,
                                       flatten_outputs, replace_adaptive_avg_pools)
from mmvision_mamba.utils.tensor_error import max_errors
from mmvision_mamba.utils.timing import median_ms


class SegmentorLogits(nn.Module):
    """mmseg EncoderDecoder: image -> decode-head logits resized to the image (bilinear).

    Its adaptive average pools (UperNet's PPM) are swapped for `ExportableAdaptiveAvgPool2d`, which stays dynamic.
    """

    def __init__(self, segmentor: nn.Module):
        super().__init__()
        self.segmentor = segmentor
        replace_adaptive_avg_pools(segmentor.decode_head)  # the PPM's pools, dynamic in the graph

    def forward(self, img: Tensor) -> Tensor:
        from mmseg.models.utils import resize

        head = self.segmentor.decode_head
        logits = head.forward(self.segmentor.extract_feat(img))
        return resize(logits, size=img.shape[2:], mode='bilinear', align_corners=head.align_corners)


class DetectorTensors(nn.Module):
    """mmdet detector in tensor mode, flattened to a tuple of tensors.

    Single-stage: the bbox head's raw outputs. Two-stage: the neck's features, then the RPN head's raw outputs.
    """

    def __init__(self, detector: nn.Module):
        super().__init__()
        self.detector = detector
        self.two_stage = getattr(detector, 'rpn_head', None) is not None

    def forward(self, img: Tensor) -> Tuple[Tensor, ...]:
        feats = self.detector.extract_feat(img)
        if self.two_stage:
            return tuple(flatten_outputs((feats, self.detector.rpn_head.forward(feats))))
        return tuple(flatten_outputs(self.detector.bbox_head.forward(feats)))


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
    parser.add_argument('--cfg-options', nargs='+', default=None, metavar='KEY=VALUE',
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


def build_model(config: str, checkpoint: Optional[str], cfg_options: Optional[List[str]]) -> Tuple[nn.Module, str]:
    """The model of `config` in eval mode, SyncBN reverted to BN, and its kind: 'backbone', 'segmentor',
    'detector'."""
    from mmengine.config import Config, DictAction
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope

    import mmvision_mamba  # noqa: F401  (registers MambaVision)
    cfg = Config.fromfile(config)
    if cfg_options:
        ns = argparse.Namespace()
        DictAction(option_strings=[], dest='opts')(None, ns, cfg_options)
        cfg.merge_from_dict(ns.opts)
    if 'model' not in cfg:
        raise SystemExit(f'error: {config} has no `model` entry.')
    model_cfg = cfg.model
    if model_cfg.get('type') == 'MambaVision':
        from mmengine.registry import MODELS
        kind = 'backbone'
    else:
        scope = cfg.get('default_scope')
        if scope == 'mmseg':
            from mmseg.registry import MODELS
            from mmseg.utils import register_all_modules
            kind = 'segmentor'
        elif scope == 'mmdet':
            from mmdet.registry import MODELS
            from mmdet.utils import register_all_modules
            kind = 'detector'
        else:
            raise SystemExit(f"error: {config}: cannot tell the model's library (default_scope={scope!r}); "
                             "expected an mmdet or mmseg config, or model.type='MambaVision'.")
        register_all_modules(init_default_scope=False)
        init_default_scope(scope)
    model = MODELS.build(model_cfg)  # no init_weights: no pretrained download
    if checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    return revert_sync_batchnorm(model).eval(), kind


def export_target(model: nn.Module, kind: str, backbone_only: bool) -> Tuple[nn.Module, str]:
    """The module to export and a description of its outputs."""
    if kind == 'backbone':
        return model, 'backbone feature maps'
    if backbone_only:
        return model.backbone, 'backbone feature maps'
    if kind == 'segmentor':
        if not hasattr(model, 'decode_head'):
            raise SystemExit(f'error: {type(model).__name__} has no decode_head; use --backbone-only.')
        return SegmentorLogits(model), 'segmentation logits at image size'
    detector = DetectorTensors(model)
    if detector.two_stage:
        return detector, 'neck features + RPN scores and box deltas (RoI stage stays in Python)'
    if getattr(model, 'bbox_head', None) is None:
        raise SystemExit(f'error: {type(model).__name__} has neither rpn_head nor bbox_head; use --backbone-only.')
    return detector, 'head scores and box deltas per level'


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, kind = build_model(args.config, args.checkpoint, args.cfg_options)
    target, what = export_target(model, kind, args.backbone_only)
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

    ort_model = OnnxRuntimeModel(out, args.threads)
    with torch.no_grad():
        reference = flatten_outputs(target(img))
        abs_err, rel_err = max_errors(reference, ort_model(img))

        def run_torch() -> None:
            target(img)

        torch_ms = median_ms(run_torch, args.repeats)
        ort_ms = median_ms(lambda: ort_model(img), args.repeats)
    print(f'Exported in {export_s:.1f} s: {nodes["total"]} ONNX nodes ({nodes.get("Scan", 0)} Scan).\n'
          f'ONNX Runtime vs PyTorch on {tuple(img.shape)}: {len(reference)} outputs, max abs error {abs_err:.3g}, '
          f'max rel error {rel_err:.3g}\n'
          f'Latency (median of {args.repeats}): PyTorch {torch_ms:.1f} ms, ONNX Runtime {ort_ms:.1f} ms')
    return dict(model=target, out=out, export_s=export_s, nodes=nodes, abs_err=abs_err, rel_err=rel_err,
                torch_ms=torch_ms, ort_ms=ort_ms, outputs=len(reference))


if __name__ == '__main__':
    main()
