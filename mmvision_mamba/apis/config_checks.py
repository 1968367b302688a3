"""Checks and adaptations of an mmengine config before a run: data present, neck/head channels that
fit the backbone, device-appropriate settings."""
import logging
import os.path as osp
from typing import Iterator, List, Optional

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from ..models.backbones.channel_check import channel_problems

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
    sync_bn_to_bn(cfg.model)


def sync_bn_to_bn(node) -> None:
    """Turns every SyncBN norm config in a config (sub)tree into BN, in place (SyncBN needs a process group)."""
    for norm in _sync_bn_cfgs(node):
        norm['type'] = 'BN'


def _sync_bn_cfgs(node) -> Iterator[dict]:
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            yield node
        for v in node.values():
            yield from _sync_bn_cfgs(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _sync_bn_cfgs(v)


def check_backbone_channels(cfg: Config) -> Optional[str]:
    """Checks, without building anything, that the neck (or, without one, the decode, auxiliary or
    panoptic heads) takes the channels that a MambaVision (or MM_mamba_vision) backbone returns.

    Returns:
        None when they match or the backbone is no MambaVision; else one line per mismatch, naming
        the key, its value and the value to set.
    """
    return '\n'.join(channel_problems(cfg.get('model'))) or None
