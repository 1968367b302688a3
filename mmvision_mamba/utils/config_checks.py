"""Checks and adaptations of an mmengine config before a run: data present, device-appropriate settings."""
import logging
import os.path as osp
from typing import Iterator, List, Optional

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

_DATA_HELP = {
    'coco': 'COCO 2017 from https://cocodataset.org/#download: put train2017/, val2017/ and '
            'annotations/instances_{{train,val}}2017.json under {root} (or a symlink to them)',
    'ade': 'ADE20K (ADEChallengeData2016.zip from http://sceneparsing.csail.mit.edu): unzip it so that '
           '{root} holds images/ and annotations/',
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
