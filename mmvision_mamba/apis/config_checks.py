"""Checks and adaptations of an mmengine config before a run: data present, neck/head channels that
fit the backbone, device-appropriate settings."""
import logging
import os.path as osp
from typing import Iterator, List, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from ..models import MambaVision
from ..utils.config_type import type_name

_DATA_HELP = {
    'coco': 'COCO 2017 from https://cocodataset.org/#download: put train2017/, val2017/ and '
            'annotations/instances_{{train,val}}2017.json under {root} (or a symlink to them)',
    'ade': 'ADE20K (ADEChallengeData2016.zip from http://sceneparsing.csail.mit.edu): unzip it so that '
           '{root} holds images/ and annotations/',
    'coco_test': 'COCO test-dev 2017 (test2017.zip and image_info_test2017.zip from '
                 'https://cocodataset.org/#download): put test2017/ and '
                 'annotations/image_info_test-dev2017.json under {root}',
    'ade_test': 'the ADE20K test set (release_test.zip from http://sceneparsing.csail.mit.edu): unzip it so '
                'that {root} holds testing/*.jpg',
}


def _datasets(cfg: ConfigDict) -> Iterator[ConfigDict]:
    """Yields the innermost dataset configs (unwrapping RepeatDataset, ConcatDataset, ...)."""
    if 'dataset' in cfg:
        yield from _datasets(cfg.dataset)
    elif 'datasets' in cfg:
        for d in cfg.datasets:
            yield from _datasets(d)
    else:
        yield cfg


def test_dataset(cfg: Config) -> Optional[ConfigDict]:
    """The innermost dataset config of `cfg.test_dataloader` (the one whose pipeline runs), or None."""
    loader = cfg.get('test_dataloader')
    if not loader or 'dataset' not in loader:
        return None
    return next(_datasets(loader.dataset))


def _expected_paths(ds: ConfigDict) -> List[str]:
    root = ds.get('data_root') or ''
    paths = [osp.join(root, ds.ann_file)] if ds.get('ann_file') else []
    for prefix in (ds.get('data_prefix') or {}).values():
        if isinstance(prefix, str) and prefix:
            paths.append(osp.join(root, prefix))
    return paths or ([root] if root else [])


def missing_data(cfg: Config, splits: tuple = ('train_dataloader', 'val_dataloader')) -> Optional[str]:
    """Returns an error message naming the data that `cfg` reads but that is not on disk, else None."""
    for split in splits:
        loader = cfg.get(split)
        if not loader or 'dataset' not in loader:
            continue
        for ds in _datasets(loader.dataset):
            absent = [p for p in _expected_paths(ds) if not osp.exists(p)]
            if absent:
                root = ds.get('data_root') or osp.dirname(absent[0])
                kind = 'ade' if 'ade' in str(ds.get('type', '')).lower() or 'ade' in root.lower() else 'coco'
                if any('test' in osp.basename(osp.normpath(p)) for p in absent):
                    kind += '_test'
                return (f'{split}: data not found: {", ".join(absent)}.\nThis config expects '
                        + _DATA_HELP[kind].format(root=root)
                        + f'.\nOr point it elsewhere: --cfg-options {split}.dataset.data_root=PATH')
    return None


def adapt_to_device(cfg: Config) -> None:
    """Makes a GPU recipe runnable on a CPU-only machine: AMP -> fp32 (with a warning), NCCL -> gloo."""
    if torch.cuda.is_available():
        return
    wrapper = cfg.get('optim_wrapper')
    if wrapper is not None and wrapper.get('type') == 'AmpOptimWrapper':
        print_log('The config asks for AMP, which needs a GPU; training in fp32 on the CPU instead.',
                  logger='current', level=logging.WARNING)
        wrapper.type = 'OptimWrapper'
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            wrapper.pop(key, None)
    dist_cfg = cfg.setdefault('env_cfg', ConfigDict()).setdefault('dist_cfg', ConfigDict())
    dist_cfg.backend = 'gloo'
    # DDP of a CPU module takes no device_ids
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                 broadcast_buffers=False,
                                 find_unused_parameters=cfg.get('find_unused_parameters', False))
    for norm in _sync_bn_cfgs(cfg.model):
        norm.type = 'BN'


def _sync_bn_cfgs(node) -> Iterator[ConfigDict]:
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            yield node
        for v in node.values():
            yield from _sync_bn_cfgs(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _sync_bn_cfgs(v)


def _head_mismatch(name: str, head, out_channels: Tuple[int, ...]) -> Optional[str]:
    """Compares a head's in_channels with the maps its in_index picks (mmseg decode / auxiliary
    heads: the last map by default; a head with a list of in_channels and no in_index, such as
    Mask2Former's, takes them all)."""
    if not isinstance(head, dict) or 'in_channels' not in head:
        return None
    in_channels = head['in_channels']
    takes_all = isinstance(in_channels, (list, tuple)) and 'in_index' not in head
    in_index = list(range(len(out_channels))) if takes_all else head.get('in_index', -1)
    single = isinstance(in_index, int)
    indices = [in_index] if single else list(in_index)
    bad = [i for i in indices if not -len(out_channels) <= i < len(out_channels)]
    if bad:
        return (f'{name}.in_index={in_index} picks map(s) {bad} but the backbone returns only '
                f'{len(out_channels)} maps (out_channels {out_channels}): use indices in '
                f'[0, {len(out_channels) - 1}] or widen backbone.out_indices.')
    expected = out_channels[in_index] if single else [out_channels[i] for i in indices]
    given = list(in_channels) if isinstance(in_channels, (list, tuple)) else in_channels
    if given != expected:
        return (f'{name}.in_channels={in_channels} but the backbone maps it takes (in_index='
                f'{in_index}) have {expected} channels: set {name}.in_channels={expected}.')
    return None


def check_backbone_channels(cfg: Config) -> Optional[str]:
    """Checks, without building anything, that the neck (or, without one, the decode,
    auxiliary or panoptic heads) takes the channels that a MambaVision backbone returns.

    Returns:
        None when they match or the backbone is no MambaVision; else a message naming both
        sides and the values to use.
    """
    model = cfg.get('model')
    while isinstance(model, dict) and 'module' in model:  # a TTA model around it
        model = model['module']
    backbone = model.get('backbone') if isinstance(model, dict) else None
    if type_name(backbone) != 'MambaVision':
        return None
    arch, out_indices = backbone.get('arch', 'tiny'), backbone.get('out_indices', (0, 1, 2, 3))
    try:
        out_channels = MambaVision.arch_channels(arch, out_indices)
    except (TypeError, ValueError) as e:
        return f'model.backbone: {e}'
    described = (f'the MambaVision backbone (arch={arch!r}, out_indices={out_indices}) returns maps with '
                 f'out_channels {out_channels}')
    neck = model.get('neck')
    if neck:
        first = neck[0] if isinstance(neck, (list, tuple)) else neck
        in_channels = first.get('in_channels') if isinstance(first, dict) else None
        if isinstance(in_channels, (list, tuple)) and tuple(in_channels) != out_channels:
            where = 'model.neck[0]' if isinstance(neck, (list, tuple)) else 'model.neck'
            return (f'{where}.in_channels={list(in_channels)} but {described}: set '
                    f'{where}.in_channels={list(out_channels)}.')
        return None
    for key in ('decode_head', 'auxiliary_head', 'panoptic_head'):
        heads = model.get(key)
        for i, head in enumerate(heads if isinstance(heads, (list, tuple)) else [heads]):
            name = f'model.{key}' + (f'[{i}]' if isinstance(heads, (list, tuple)) else '')
            problem = _head_mismatch(name, head, out_channels)
            if problem:
                return f'{problem} ({described})'
    return None
