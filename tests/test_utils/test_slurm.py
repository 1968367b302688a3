"""mmvision_mamba.utils.slurm: the distributed environment of an srun task; requeue through scontrol."""
import os
import subprocess
from unittest import mock

import pytest

from mmvision_mamba.utils import slurm


def test_dist_env_from_slurm(monkeypatch) -> None:
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('SLURM_PROCID', '3')
    monkeypatch.setenv('SLURM_NTASKS', '4')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'gpu[07-08]')
    shown = subprocess.CompletedProcess([], 0, stdout='gpu07\ngpu08\n')
    with mock.patch('subprocess.run', return_value=shown) as run:
        slurm.set_dist_env_from_slurm(29555)
    assert run.call_args[0][0] == ['scontrol', 'show', 'hostnames', 'gpu[07-08]']
    assert {k: os.environ[k] for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')} == dict(
        RANK='3', WORLD_SIZE='4', LOCAL_RANK='1', MASTER_ADDR='gpu07', MASTER_PORT='29555')


def test_not_an_srun_task(monkeypatch) -> None:
    monkeypatch.delenv('SLURM_PROCID', raising=False)
    with pytest.raises(RuntimeError, match='start it with srun'):
        slurm.set_dist_env_from_slurm()


def test_requeue() -> None:
    shown = subprocess.CompletedProcess([], 0, stdout='JobId=5 JobName=x Requeue=1 Restarts=0 BatchFlag=1 Reboot=0')
    with mock.patch('subprocess.run', return_value=shown):
        assert slurm.job_requeueable('5')
    for other in ('Requeue=0 Restarts=0 BatchFlag=1', 'Requeue=1 Restarts=0 BatchFlag=0'):  # srun's own job: 0
        with mock.patch('subprocess.run', return_value=subprocess.CompletedProcess([], 0, stdout=other)):
            assert not slurm.job_requeueable('5')
    with mock.patch('subprocess.run', side_effect=FileNotFoundError('scontrol')):
        assert not slurm.job_requeueable('5')
        assert 'scontrol' in slurm.requeue_job('5')
    refused = subprocess.CompletedProcess([], 1, stderr='Requested operation is presently disabled')
    with mock.patch('subprocess.run', return_value=refused):
        assert slurm.requeue_job('5') == 'Requested operation is presently disabled'
