"""An official MambaVision checkpoint as an mmengine checkpoint for mmdet / mmseg: `{'state_dict', 'meta'}` with the
backbone's keys under `backbone.`, the variant, and the class names of the dataset (tools/model_converters/
mambavision2mm.py)."""
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, Mapping, Optional

from torch import Tensor

from ...fileio import load_checkpoint_file
from .ckpt_convert import convert_mambavision, extract_state_dict

#: dataset name -> (scope, class count)
MM_DATASETS = {'coco': ('mmdet', 80), 'ade20k': ('mmseg', 150)}
#: weights whose first dimension is the number of classes (+1 for a background class in mmdet's heads)
CLASS_LOGIT_SUFFIXES = {'fc_cls.weight': 1, 'conv_cls.weight': 0, 'conv_seg.weight': 0}


def dataset_meta(name: str) -> Dict[str, Any]:
    """classes and palette of COCO (mmdet's CocoDataset) or ADE20K (mmseg's ADE20KDataset)."""
    if name == 'coco':
        from mmdet.datasets import CocoDataset as dataset
    elif name == 'ade20k':
        from mmseg.datasets import ADE20KDataset as dataset
    else:
        raise ValueError(f'Unknown dataset {name!r}; choose one of {sorted(MM_DATASETS)}.')
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
    from ..backbones import MambaVision

    dim = backbone['patch_embed.conv_down.3.weight'].shape[0]
    in_dim = backbone['patch_embed.conv_down.0.weight'].shape[0]
    depths = tuple(len({k.split('.')[3] for k in backbone if k.startswith(f'levels.{i}.blocks.')}) for i in range(4))
    for name, arch in MambaVision.arch_settings.items():
        if (arch['dim'], arch['in_dim'], tuple(arch['depths'])) == (dim, in_dim, depths):
            return name
    return None


def convert_to_mm_checkpoint(src: str, dataset: Optional[str] = None) -> Dict[str, Any]:
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
    if dataset is not None and num_classes is not None and num_classes != MM_DATASETS[dataset][1]:
        raise ValueError(f'{src!r} has a head for {num_classes} classes, but --dataset {dataset} has '
                         f'{MM_DATASETS[dataset][1]}; pass the dataset the checkpoint was trained on.')
    meta: Dict[str, Any] = dict(source=osp.basename(src), layout='detection/segmentation' if dense else 'backbone',
                                arch=infer_arch(backbone))
    old_meta = loaded.get('meta') if isinstance(loaded, Mapping) else None
    if dataset is not None:
        meta['dataset_meta'] = dataset_meta(dataset)
    elif isinstance(old_meta, Mapping) and old_meta.get('dataset_meta'):
        meta['dataset_meta'] = dict(old_meta['dataset_meta'])
    elif num_classes is not None:  # an official det/seg checkpoint without metadata: its head tells
        guess = next((name for name, (_, n) in MM_DATASETS.items() if n == num_classes), None)
        if guess is not None:
            meta['dataset_meta'] = dataset_meta(guess)
    return dict(state_dict=state, meta=meta)
