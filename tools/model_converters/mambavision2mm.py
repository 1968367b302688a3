"""Converts an official MambaVision checkpoint into an mmengine checkpoint for mmdet / mmseg.

    python tools/model_converters/mambavision2mm.py mambavision_tiny_1k.pth.tar mambavision_t_mm.pth
    python tools/model_converters/mambavision2mm.py model.safetensors mambavision_t_mm.pth
    python tools/model_converters/mambavision2mm.py cascade_mask_rcnn_mamba_vision_tiny_3x_coco.pth out.pth
    python tools/model_converters/mambavision2mm.py mamba_vision_160k_ade20k-512x512_tiny.pth out.pth --dataset ade20k

Sources: the classification `.pth.tar`, Hugging Face `model.safetensors` and the official detection /
segmentation checkpoints. The result is `{'state_dict': ..., 'meta': {...}}`, read offline by `load_from=`,
tools/test.py, DetInferencer and MMSegInferencer. Backbone-only sources get `backbone.`-prefixed keys (the
classifier's norm and head are dropped); detection / segmentation checkpoints keep their keys. With `--dataset`
`meta.dataset_meta` holds the class names and palette of COCO or ADE20K, so the inferencers name the classes;
without it a det/seg checkpoint keeps its own dataset_meta, or, having none, gets COCO's or ADE20K's when its head
has 80 or 150 classes.
"""
import argparse
import os
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, Mapping, Optional

import torch
from torch import Tensor

from mmvision_mamba.models import MambaVision
from mmvision_mamba.models.utils import convert_mambavision, extract_state_dict
from mmvision_mamba.fileio import load_checkpoint_file

#: dataset name -> (scope, class count)
DATASETS = {'coco': ('mmdet', 80), 'ade20k': ('mmseg', 150)}
#: weights whose first dimension is the number of classes (+1 for a background class in mmdet's heads)
CLASS_LOGIT_SUFFIXES = {'fc_cls.weight': 1, 'conv_cls.weight': 0, 'conv_seg.weight': 0}


def dataset_meta(name: str) -> Dict[str, Any]:
    """classes and palette of COCO (mmdet's CocoDataset) or ADE20K (mmseg's ADE20KDataset)."""
    if name == 'coco':
        from mmdet.datasets import CocoDataset as dataset
    elif name == 'ade20k':
        from mmseg.datasets import ADE20KDataset as dataset
    else:
        raise ValueError(f'Unknown dataset {name!r}; choose one of {sorted(DATASETS)}.')
    return dict(classes=tuple(dataset.METAINFO['classes']), palette=[tuple(c) for c in dataset.METAINFO['palette']])


def head_classes(state_dict: Mapping[str, Tensor]) -> Optional[int]:
    """Number of classes the checkpoint's head predicts, or None for a backbone-only checkpoint."""
    for key, value in state_dict.items():
        for suffix, background in CLASS_LOGIT_SUFFIXES.items():
            if key.endswith(suffix) and not key.startswith(('backbone.', 'rpn_head.')):
                return value.shape[0] - background
    return None


def infer_arch(backbone: Mapping[str, Tensor]) -> Optional[str]:
    """The MambaVision variant whose widths and depths the backbone weights have, if any."""
    dim = backbone['patch_embed.conv_down.3.weight'].shape[0]
    in_dim = backbone['patch_embed.conv_down.0.weight'].shape[0]
    depths = tuple(len({k.split('.')[3] for k in backbone if k.startswith(f'levels.{i}.blocks.')}) for i in range(4))
    for name, arch in MambaVision.arch_settings.items():
        if (arch['dim'], arch['in_dim'], tuple(arch['depths'])) == (dim, in_dim, depths):
            return name
    return None


def convert(src: str, dataset: Optional[str] = None) -> Dict[str, Any]:
    """The mmengine checkpoint ({'state_dict', 'meta'}) of an official MambaVision file.

    Raises:
        ValueError: the file holds no MambaVision weights, or its head does not fit `dataset`.
    """
    loaded = load_checkpoint_file(src)
    source = extract_state_dict(loaded)
    source = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v) for k, v in source.items())
    dense = any(k.startswith('backbone.') for k in source)
    backbone = convert_mambavision(source)
    if 'patch_embed.conv_down.0.weight' not in backbone or 'patch_embed.conv_down.3.weight' not in backbone:
        raise ValueError(f'{src!r} holds no MambaVision backbone weights (first keys: {list(source)[:3]}); '
                         'expected an official classification .pth.tar, model.safetensors or det/seg checkpoint.')
    if dense:
        state = OrderedDict((k, v.contiguous()) for k, v in source.items())
    else:
        state = OrderedDict((f'backbone.{k}', v.contiguous()) for k, v in backbone.items())
    num_classes = head_classes(state)
    if dataset is not None and num_classes is not None and num_classes != DATASETS[dataset][1]:
        raise ValueError(f'{src!r} has a head for {num_classes} classes, but --dataset {dataset} has '
                         f'{DATASETS[dataset][1]}; pass the dataset the checkpoint was trained on.')
    meta: Dict[str, Any] = dict(source=osp.basename(src), layout='detection/segmentation' if dense else 'backbone',
                                arch=infer_arch(backbone))
    old_meta = loaded.get('meta') if isinstance(loaded, Mapping) else None
    if dataset is not None:
        meta['dataset_meta'] = dataset_meta(dataset)
    elif isinstance(old_meta, Mapping) and old_meta.get('dataset_meta'):
        meta['dataset_meta'] = dict(old_meta['dataset_meta'])
    elif num_classes is not None:  # an official det/seg checkpoint without metadata: its head tells
        guess = next((name for name, (_, n) in DATASETS.items() if n == num_classes), None)
        if guess is not None:
            meta['dataset_meta'] = dataset_meta(guess)
    return dict(state_dict=state, meta=meta)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert an official MambaVision checkpoint for mmdet / mmseg')
    parser.add_argument('src', help='official checkpoint: .pth.tar, model.safetensors or a det/seg .pth')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument('--dataset', choices=sorted(DATASETS),
                        help='set meta.dataset_meta to these classes and palette (default: the source\'s own, or '
                             'from the class count of a det/seg head; none for a backbone-only source)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if osp.abspath(args.src) == osp.abspath(args.dst):
        raise SystemExit('error: DST must differ from SRC (the source is never overwritten).')
    try:
        ckpt = convert(args.src, args.dataset)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f'error: {e}') from e
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(ckpt, args.dst)
    meta = ckpt['meta']
    classes = meta.get('dataset_meta', {}).get('classes')
    print(f'{args.dst}: {len(ckpt["state_dict"])} tensors ({meta["layout"]} layout, arch {meta["arch"]}); '
          + (f'dataset_meta: {len(classes)} classes ({", ".join(classes[:3])}, ...)' if classes
             else 'no dataset_meta (pass --dataset coco|ade20k for an inferencer)'))


if __name__ == '__main__':
    main()
