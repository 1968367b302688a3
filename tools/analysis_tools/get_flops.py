"""FLOPs and parameters of a MambaVision model: backbone and whole detector / segmentor, per level.

    python tools/analysis_tools/get_flops.py configs/det/mask_rcnn_mambavision_t.py [--shape 800 1344]
    python tools/analysis_tools/get_flops.py configs/seg/upernet_mambavision_t_512x512_160k_ade20k.py --backbone-only
    python tools/analysis_tools/get_flops.py tiny [--shape 224 224]    # the ImageNet classifier of a variant

Two counts, both in multiply-accumulates (one MAC = one flop, mmengine's convention):
- full: every conv and linear, attention's matrix products, the selective scans and the norms, through
  mmengine's FlopAnalyzer with the handles of `mmvision_mamba.analysis` (the true cost, e.g. of padded windows);
- paper: conv and linear modules only (ptflops), the count the MambaVision paper reports.
"""
import argparse
import os.path as osp
from typing import Any, Dict

import torch
from mmengine.config import DictAction

from mmvision_mamba.analysis import count_flops, flops_table, tensor_forward
from mmvision_mamba.apis import init_model, load_config
from mmvision_mamba.models import MambaVision, MambaVisionClassifier

#: default input (H, W) per scope when neither --shape nor the config's crop_size give one
DEFAULT_SHAPES = {'mmdet': (800, 1344), 'mmseg': (512, 512), 'classifier': (224, 224)}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='FLOPs and parameters of a MambaVision model')
    parser.add_argument('config', help='an mmdet / mmseg config file, or a variant name (tiny, tiny2, small, '
                                       'base, large, large2, large3, or T, T2, ...) for its ImageNet classifier')
    parser.add_argument('--shape', type=int, nargs='+', metavar='N',
                        help='input H W (or one value for both); default: 800 1344 (mmdet), the crop_size or '
                             '512 512 (mmseg), 224 224 (classifier)')
    parser.add_argument('--backbone-only', action='store_true', help='count the backbone alone')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.backbone.window_size="(8,8,14,7)"')
    args = parser.parse_args(argv)
    if args.shape is not None:
        if len(args.shape) not in (1, 2) or min(args.shape) < 1:
            parser.error(f'--shape takes H W (or one size) of positive ints, got {args.shape}')
        args.shape = tuple(args.shape) * (3 - len(args.shape))
    return args


def is_arch_name(name: str) -> bool:
    key = name.lower()
    return key in MambaVision.arch_settings or key in MambaVision.arch_aliases


def count(args: argparse.Namespace) -> Dict[str, Any]:
    """count_flops's result for the arguments, with 'title' and 'shape' added."""
    if is_arch_name(args.config):
        if args.cfg_options or args.backbone_only:
            raise SystemExit('error: --cfg-options and --backbone-only need a config file, not a variant name.')
        shape = args.shape or DEFAULT_SHAPES['classifier']
        model = MambaVisionClassifier(args.config)
        title = f'MambaVision-{args.config} ImageNet classifier (1000 classes)'
        result = count_flops(model, torch.randn(1, 3, *shape))
    else:
        if not osp.isfile(args.config):
            raise SystemExit(f'error: {args.config!r} is neither a config file nor a variant name '
                             f'({", ".join(MambaVision.arch_settings)}).')
        cfg = load_config(args.config, args.cfg_options)
        scope = cfg.get('default_scope')
        if scope not in ('mmdet', 'mmseg'):
            raise SystemExit(f"error: {args.config} has default_scope={scope!r}; get_flops.py counts mmdet and "
                             "mmseg configs ('mmdet' or 'mmseg').")
        if 'backbone' not in cfg.model:
            raise SystemExit(f'error: the model of {args.config} has no backbone.')
        crop = cfg.get('crop_size')
        shape = args.shape or (tuple(crop) if scope == 'mmseg' and crop else DEFAULT_SHAPES[scope])
        model = init_model(cfg)  # the count does not depend on the weights
        x = torch.randn(1, 3, *shape)
        if args.backbone_only:
            model = model.backbone
            title = f'backbone {type(model).__name__} of {args.config}'
            result = count_flops(model, x)
        else:
            title = f'{scope} {type(model).__name__} of {args.config}'
            with tensor_forward(model, scope, shape) as bound:
                result = count_flops(bound, x)
    backbone = model if isinstance(model, MambaVision) else getattr(model, 'backbone', None)
    if isinstance(backbone, MambaVision):
        title += f', windows {backbone.window_size}'
    result.update(title=title, shape=shape)
    return result


def main(argv=None) -> None:
    args = parse_args(argv)
    result = count(args)
    h, w = result['shape']
    print(f'{result["title"]}, input 1x3x{h}x{w}')
    print(flops_table(result))
    print('full: every conv and linear, the attention products, the selective scans and the norms; paper: conv '
          'and linear modules only (ptflops, as in the MambaVision paper). Both in multiply-accumulates.')
    if result['unsupported_ops']:
        print('not counted (no flop handle): ' + ', '.join(f'{k} x{v}' for k, v in result['unsupported_ops'].items()))


if __name__ == '__main__':
    main()
