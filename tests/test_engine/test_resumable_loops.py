"""Resumable train loops: a run stopped by a signal in the middle of an epoch and resumed trains the same
samples in the same order to the same weights as an uninterrupted run."""
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from mmvision_mamba.engine import EXIT_PREEMPTED, ResumableEpochBasedTrainLoop, ResumableIterBasedTrainLoop
from tests.test_engine.preemption_toy import read_ids, toy_config, weights


@pytest.mark.parametrize('by_epoch', [True, False], ids=['epoch-based', 'iter-based'])
def test_stop_mid_epoch_then_resume_is_exact(by_epoch: bool, tmp_path) -> None:
    whole = Runner.from_cfg(toy_config(str(tmp_path / 'whole'), by_epoch))
    whole.train()
    assert isinstance(whole.train_loop, ResumableEpochBasedTrainLoop if by_epoch else ResumableIterBasedTrainLoop)

    work = str(tmp_path / 'stopped')
    stopped = Runner.from_cfg(toy_config(work, by_epoch, signal_at=7))  # the 2nd batch of epoch 2
    with pytest.raises(SystemExit) as stop:
        stopped.train()
    assert stop.value.code == EXIT_PREEMPTED
    assert stopped.iter == 8 and len(read_ids(work)) == 16
    assert open(osp.join(work, 'last_checkpoint')).read() == osp.join(work, 'iter_8.pth')

    resumed = Runner.from_cfg(toy_config(work, by_epoch, resume=True))
    resumed.train()
    assert resumed.iter == 12
    assert read_ids(work) == read_ids(str(tmp_path / 'whole'))
    assert torch.equal(weights(resumed), weights(whole))


def test_plain_mmengine_checkpoint_resumes_as_mmengine_does(tmp_path) -> None:
    """Without the saved training state (a checkpoint of mmengine's CheckpointHook), the epoch starts again."""
    work = str(tmp_path / 'plain')
    stopped = Runner.from_cfg(toy_config(work, signal_at=7))
    with pytest.raises(SystemExit):
        stopped.train()
    ckpt = torch.load(osp.join(work, 'iter_8.pth'), weights_only=False)
    del ckpt['message_hub']['runtime_info']['training_state']
    torch.save(ckpt, osp.join(work, 'iter_8.pth'))
    resumed = Runner.from_cfg(toy_config(work, resume=True))
    resumed.train()
    ids = read_ids(work)
    assert len(ids) == 16 + 12  # epoch 2 whole again, as mmengine does
    assert resumed.iter == 14
