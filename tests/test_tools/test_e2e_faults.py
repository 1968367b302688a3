"""Faults during long runs, end to end through tools/train.py and tools/test.py: a run killed while
saving resumes from its last whole checkpoint; damaged checkpoints are named, never a zip error."""
import glob
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
from typing import List

import pytest

from mmvision_mamba.engine import checkpoint_problem
from mmvision_mamba.testing import make_ade_shapes
from tests.test_tools.test_e2e import ADE_64PX_DATA

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))
pytestmark = pytest.mark.e2e

# UperNet on a tiny MambaVision, 64 px crops, one checkpoint per iteration, no validation
SEG_CFG = '''_base_ = {base!r}
''' + ADE_64PX_DATA + '''model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch=dict(_delete_=True, dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2)),
                  window_size=(4, 4, 4, 2), drop_path_rate=0., init_cfg=None),
    decode_head=dict(in_channels=[16, 32, 64, 128], channels=16),
    auxiliary_head=dict(in_channels=64, channels=16))
train_cfg = dict(max_iters=2, val_interval=100)
param_scheduler = [dict(type='ConstantLR', factor=1., by_epoch=False, begin=0, end=2)]
default_hooks = dict(checkpoint=dict(interval=1), logger=dict(interval=1))
'''

# the same run, saving through the test-only backend that SIGKILLs the process while writing
KILL_CFG = '''_base_ = 'seg_cfg.py'
custom_imports = dict(imports=['mmvision_mamba', 'kill_mid_save'], allow_failed_imports=False)
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='kill_mid_save')))
'''


def tool(args: List[str], ok: bool = True, **env) -> subprocess.CompletedProcess:
    pythonpath = os.pathsep.join(p for p in (HERE, os.environ.get('PYTHONPATH')) if p)
    proc = subprocess.run([sys.executable] + args, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONUNBUFFERED='1', PYTHONPATH=pythonpath, **env))
    if ok:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def truncate(path: str) -> None:
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 2)


@pytest.fixture(scope='module')
def configs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp('faults')
    root = make_ade_shapes(str(tmp / 'ade'), num_train=2, num_val=1, size=64) + '/'
    (tmp / 'seg_cfg.py').write_text(SEG_CFG.format(
        base=osp.join(ROOT, 'configs/seg/upernet_mambavision_t_512x512_160k_ade20k.py'), root=root))
    (tmp / 'kill_cfg.py').write_text(KILL_CFG)
    return dict(seg=str(tmp / 'seg_cfg.py'), kill=str(tmp / 'kill_cfg.py'))


@pytest.fixture(scope='module')
def killed_run(configs: dict, tmp_path_factory) -> str:
    """The work dir of a run SIGKILLed while writing iter_2.pth (iter_1.pth was saved whole)."""
    work = str(tmp_path_factory.mktemp('killed') / 'work')
    proc = tool(['tools/train.py', configs['kill'], '--work-dir', work], ok=False, KILL_MID_SAVE='iter_2.pth')
    assert proc.returncode == -signal.SIGKILL, proc.stdout[-3000:] + proc.stderr[-5000:]
    return work


def relocated_copy(work: str, dst: str) -> str:
    """A copy of a work dir, its last_checkpoint pointing into the copy."""
    shutil.copytree(work, dst)
    pointer = osp.join(dst, 'last_checkpoint')
    with open(pointer) as f:
        named = f.read()
    with open(pointer, 'w') as f:
        f.write(osp.join(dst, osp.relpath(named, work)))
    return dst


@pytest.fixture
def damaged_newest(killed_run: str, tmp_path) -> str:
    """A copy of the killed run whose newest checkpoint, iter_2.pth, is cut short and named in
    last_checkpoint (an interrupted copy, or a file that a lost node never flushed)."""
    work = str(tmp_path / 'work')
    shutil.copytree(killed_run, work, ignore=shutil.ignore_patterns('.*.partial'))
    shutil.copyfile(osp.join(work, 'iter_1.pth'), osp.join(work, 'iter_2.pth'))
    truncate(osp.join(work, 'iter_2.pth'))
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'iter_2.pth'))
    return work


def test_killed_while_saving_then_resume(configs: dict, killed_run: str, tmp_path) -> None:
    assert checkpoint_problem(osp.join(killed_run, 'iter_1.pth')) is None
    assert not osp.exists(osp.join(killed_run, 'iter_2.pth'))
    assert len(glob.glob(osp.join(killed_run, '.iter_2.pth.*.partial'))) == 1
    assert open(osp.join(killed_run, 'last_checkpoint')).read() == osp.join(killed_run, 'iter_1.pth')

    work = relocated_copy(killed_run, str(tmp_path / 'work'))
    resumed = tool(['tools/train.py', configs['seg'], '--work-dir', work, '--resume'])
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 0, iter: 1' in log
    assert 'Removed 1 incomplete file(s)' in log
    assert checkpoint_problem(osp.join(work, 'iter_2.pth')) is None
    assert not glob.glob(osp.join(work, '.*.partial'))


def test_auto_resume_passes_over_a_truncated_newest_checkpoint(configs: dict, damaged_newest: str) -> None:
    damaged = osp.join(damaged_newest, 'iter_2.pth')
    resumed = tool(['tools/train.py', configs['seg'], '--work-dir', damaged_newest, '--resume'])
    log = resumed.stdout + resumed.stderr
    assert 'WARNING' in log and damaged in log and 'cut short' in log
    assert 'resumed epoch: 0, iter: 1' in log
    assert 'PytorchStreamReader' not in log
    assert checkpoint_problem(damaged) is None  # saved again, whole


def test_explicit_resume_from_a_damaged_checkpoint(configs: dict, damaged_newest: str) -> None:
    damaged = osp.join(damaged_newest, 'iter_2.pth')
    proc = tool(['tools/train.py', configs['seg'], '--work-dir', damaged_newest, '--resume', damaged], ok=False)
    assert proc.returncode != 0
    assert f'Cannot resume from {damaged}: it is damaged or incomplete' in proc.stderr
    assert 'Readable checkpoints beside it' in proc.stderr and 'iter_1.pth' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_test_tool_names_a_truncated_checkpoint(configs: dict, damaged_newest: str) -> None:
    damaged = osp.join(damaged_newest, 'iter_2.pth')
    proc = tool(['tools/test.py', configs['seg'], damaged, '--work-dir', damaged_newest], ok=False)
    assert proc.returncode != 0
    assert f'Cannot load {damaged}: it is damaged or incomplete' in proc.stderr
    assert 'Traceback' not in proc.stderr and 'PytorchStreamReader' not in proc.stderr
