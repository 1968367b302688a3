"""use_resumable_training: the config rewrite tools/train.py applies."""
from mmengine.config import Config

from mmvision_mamba.engine import use_resumable_training


def test_mmdet_like_config() -> None:
    cfg = Config(dict(
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=12),
        train_dataloader=dict(batch_size=2, batch_sampler=dict(type='AspectRatioBatchSampler')),
        default_hooks=dict(checkpoint=dict(type='AtomicCheckpointHook', interval=1)),
        custom_hooks=[dict(type='EMAHook')]))
    use_resumable_training(cfg)
    assert cfg.train_cfg == dict(type='ResumableEpochBasedTrainLoop', max_epochs=12)
    assert cfg.train_dataloader.batch_sampler == dict(type='ResumableBatchSampler',
                                                      batch_sampler=dict(type='AspectRatioBatchSampler'))
    assert cfg.default_hooks.checkpoint == dict(type='ResumableCheckpointHook', interval=1)
    assert cfg.custom_hooks == [dict(type='EMAHook'), dict(type='PreemptionHook')]
    use_resumable_training(cfg)  # idempotent
    assert cfg.train_dataloader.batch_sampler.batch_sampler == dict(type='AspectRatioBatchSampler')
    assert len(cfg.custom_hooks) == 2


def test_mmseg_like_config_and_options() -> None:
    cfg = Config(dict(
        train_cfg=dict(by_epoch=False, max_iters=160000),
        train_dataloader=dict(batch_size=2, drop_last=True, sampler=dict(type='InfiniteSampler')),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', by_epoch=False)),
        preemption=dict(signals=['SIGUSR2'], requeue=False)))
    use_resumable_training(cfg)
    assert cfg.train_cfg == dict(type='ResumableIterBasedTrainLoop', max_iters=160000)
    assert cfg.train_dataloader.batch_sampler == dict(type='ResumableBatchSampler', batch_sampler=None,
                                                      drop_last=True)
    assert 'drop_last' not in cfg.train_dataloader
    assert cfg.custom_hooks == [dict(type='PreemptionHook', signals=['SIGUSR2'], requeue=False)]


def test_turned_off_or_not_applicable() -> None:
    off = Config(dict(train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=1), preemption=None,
                      default_hooks=dict(checkpoint=dict(type='CheckpointHook'))))
    use_resumable_training(off)
    assert 'custom_hooks' not in off
    own = Config(dict(train_cfg=dict(type='MyLoop'), default_hooks=dict(checkpoint=dict(type='CheckpointHook'))))
    use_resumable_training(own)
    assert own.train_cfg.type == 'MyLoop' and 'custom_hooks' not in own
