"""Turns a config's training into one that stops on a signal and resumes exactly (what tools/train.py applies)."""
import logging

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from ...utils.config_type import type_name

_LOOPS = {'EpochBasedTrainLoop': 'ResumableEpochBasedTrainLoop', 'IterBasedTrainLoop': 'ResumableIterBasedTrainLoop'}
_CHECKPOINT_HOOKS = ('CheckpointHook', 'AtomicCheckpointHook')


def use_resumable_training(cfg: Config) -> None:
    """Rewrites `cfg` in place so that training resumes exactly and handles preemption signals:

    - `train_cfg`: mmengine's epoch / iteration loops -> `ResumableEpochBasedTrainLoop` / `ResumableIterBasedTrainLoop`;
    - `train_dataloader.batch_sampler` wrapped in a `ResumableBatchSampler`;
    - `default_hooks.checkpoint`: mmengine's `CheckpointHook` or `AtomicCheckpointHook` -> `ResumableCheckpointHook`;
    - a `PreemptionHook` in `custom_hooks`, with the arguments of the config's `preemption` dict (default: SIGTERM
      and SIGUSR1, requeue under Slurm); `preemption = None` leaves it out. A config that has one keeps its own.

    Other loop, sampler and hook types are left alone (and then there is no PreemptionHook, with a warning).
    """
    train_cfg = cfg.get('train_cfg')
    resumable = False
    if train_cfg is not None:
        if 'type' not in train_cfg and 'by_epoch' in train_cfg:
            train_cfg.type = 'EpochBasedTrainLoop' if train_cfg.pop('by_epoch') else 'IterBasedTrainLoop'
        kind = type_name(train_cfg)
        train_cfg.type = _LOOPS.get(kind, train_cfg.type)
        resumable = train_cfg.type in _LOOPS.values()

    loader = cfg.get('train_dataloader')
    if loader is not None:
        inner = loader.get('batch_sampler')
        if inner is None or type_name(inner) != 'ResumableBatchSampler':
            wrapped = ConfigDict(type='ResumableBatchSampler', batch_sampler=inner)
            if inner is None:
                wrapped.drop_last = loader.pop('drop_last', False)
            loader.batch_sampler = wrapped

    hook = cfg.get('default_hooks', {}).get('checkpoint')
    if hook is not None and type_name(hook) in _CHECKPOINT_HOOKS:
        hook.type = 'ResumableCheckpointHook'
    resumable = resumable and hook is not None and hook.type == 'ResumableCheckpointHook'

    preemption = cfg.get('preemption', {})
    custom_hooks = list(cfg.get('custom_hooks', None) or [])
    if preemption is None or any(type_name(h) == 'PreemptionHook' for h in custom_hooks):
        return
    if not resumable:
        print_log(f'No preemption handling: it needs mmengine\'s train loops and checkpoint hook, not '
                  f'{type_name(train_cfg or {})} and {type_name(hook or {})}', logger='current',
                  level=logging.WARNING)
        return
    cfg.custom_hooks = custom_hooks + [dict(type='PreemptionHook', **preemption)]
