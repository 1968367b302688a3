"""PreemptionHook: the ranks stop together at one iteration, after a validation under way, with one whole
checkpoint, whatever other signals come."""
import multiprocessing
import os
import os.path as osp
import socket

import pytest
import torch
import torch.distributed as dist
from mmengine.runner import Runner

from mmvision_mamba.engine import EXIT_PREEMPTED, PreemptionHook, checkpoint_problem
from tests.test_engine.preemption_toy import read_ids, toy_config


def _rank(rank: int, port: int, work_dir: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE='2',
                      LOCAL_RANK=str(rank))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    runner = Runner.from_cfg(toy_config(work_dir, signal_at=3, signal_rank=1, launcher='pytorch'))
    try:
        runner.train()
    except SystemExit as e:
        with open(osp.join(work_dir, f'stop.rank{rank}'), 'w') as f:
            f.write(f'{runner.iter} {e.code}')


def test_a_signal_on_one_rank_stops_both_at_the_same_iteration(tmp_path) -> None:
    work = str(tmp_path / 'work')
    os.makedirs(work)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = multiprocessing.get_context('spawn')
    ranks = [ctx.Process(target=_rank, args=(r, port, work)) for r in range(2)]
    for p in ranks:
        p.start()
    for p in ranks:
        p.join(120)
    assert [p.exitcode for p in ranks] == [0, 0]
    assert [open(osp.join(work, f'stop.rank{r}')).read() for r in range(2)] == [f'4 {EXIT_PREEMPTED}'] * 2
    assert len(read_ids(work, 0)) == len(read_ids(work, 1)) == 4 * 2
    assert checkpoint_problem(osp.join(work, 'iter_4.pth')) is None
    state = torch.load(osp.join(work, 'iter_4.pth'), weights_only=False)['message_hub']['runtime_info']
    assert state['training_state']['world_size'] == 2 and len(state['training_state']['rng']) == 2


def test_a_signal_during_validation_stops_after_it(tmp_path) -> None:
    work = str(tmp_path / 'work')
    runner = Runner.from_cfg(toy_config(work, val_interval=1, signal_at_val=1))  # in the validation after epoch 1
    with pytest.raises(SystemExit) as stop:
        runner.train()
    assert stop.value.code == EXIT_PREEMPTED
    assert runner.val_evaluator.metrics[0].vals == 1  # the validation ran to its end
    assert runner.iter == 6 and runner.epoch == 1
    assert os.listdir(work).count('iter_6.pth') == 1
    assert torch.load(osp.join(work, 'iter_6.pth'), weights_only=False)['meta']['epoch'] == 1
    resumed = Runner.from_cfg(toy_config(work, val_interval=1, resume=True))
    resumed.train()
    assert resumed.iter == 12 and len(read_ids(work)) == 24


def test_a_second_signal_during_the_save_changes_nothing(tmp_path) -> None:
    work = str(tmp_path / 'work')
    runner = Runner.from_cfg(toy_config(work, by_epoch=False, signal_at=2, backend='signal_mid_save'))
    with pytest.raises(SystemExit) as stop:
        runner.train()
    assert stop.value.code == EXIT_PREEMPTED
    hook = next(h for h in runner.hooks if isinstance(h, PreemptionHook))
    assert hook.received == 'SIGUSR1' and hook.stopped_at == (0, 3)
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == ['iter_3.pth']
    assert checkpoint_problem(osp.join(work, 'iter_3.pth')) is None
    assert len(read_ids(work)) == 6


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown signal 'SIGFOO'"):
        PreemptionHook(signals=['SIGFOO'])
    assert PreemptionHook(signals=['SIGINT', 12]).signals[1].name == 'SIGUSR2'
