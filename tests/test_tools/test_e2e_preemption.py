"""Preemption without Slurm, end to end: an iteration-based UperNet trained by 2 processes (gloo) under
tools/dist_train.sh, sent SIGTERM in the middle, resumed with --resume, ends as an uninterrupted run."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmvision_mamba.testing import make_ade_shapes
from tests.test_tools.test_e2e import ADE_64PX_DATA, free_port

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))
pytestmark = pytest.mark.e2e
MAX_ITERS = 8
BATCH = 2  # per process (BN layers need 2)

SEG_CFG = '''_base_ = {base!r}
''' + ADE_64PX_DATA + '''custom_imports = dict(imports=['mmvision_mamba', 'record_samples'], allow_failed_imports=False)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch=dict(_delete_=True, dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2)),
                  window_size=(4, 4, 4, 2), drop_path_rate=0., init_cfg=None),
    decode_head=dict(in_channels=[16, 32, 64, 128], channels=16),
    auxiliary_head=dict(in_channels=64, channels=16))
train_cfg = dict(max_iters={max_iters}, val_interval=1000)
param_scheduler = [dict(type='PolyLR', power=1.0, eta_min=0., by_epoch=False, begin=0, end={max_iters})]
default_hooks = dict(checkpoint=dict(interval=1000), logger=dict(interval=1))
custom_hooks = [dict(type='RecordSamplesHook')]
randomness = dict(seed=3, deterministic=True)
'''


def dist_train(cfg: str, work: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHON=sys.executable, PORT=free_port(), OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
               PYTHONPATH=os.pathsep.join(p for p in (HERE, os.environ.get('PYTHONPATH')) if p))
    log = open(osp.join(osp.dirname(work), osp.basename(work) + '.log'), 'a')
    return subprocess.Popen(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', work, *args], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def finish(proc: subprocess.Popen, work: str, ok: bool = True) -> str:
    proc.wait(600)
    log = open(osp.join(osp.dirname(work), osp.basename(work) + '.log')).read()
    if ok:
        assert proc.returncode == 0, log[-6000:]
    return log


def lines(path: str) -> list:
    return open(path).read().split() if osp.exists(path) else []


def max_abs_diff(a: str, b: str) -> float:
    sa, sb = (torch.load(p, map_location='cpu', weights_only=False)['state_dict'] for p in (a, b))
    assert sa.keys() == sb.keys()
    return max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa if sa[k].is_floating_point())


def test_sigterm_under_dist_train_then_resume_is_exact(tmp_path) -> None:
    root = make_ade_shapes(str(tmp_path / 'ade'), num_train=6, num_val=1, size=64) + '/'
    cfg = tmp_path / 'seg_cfg.py'
    cfg.write_text(SEG_CFG.format(base=osp.join(ROOT, 'configs/seg/upernet_mambavision_t_512x512_160k_ade20k.py'),
                                  root=root, max_iters=MAX_ITERS))
    whole, work = str(tmp_path / 'whole'), str(tmp_path / 'work')
    log = finish(dist_train(str(cfg), whole), whole)
    assert 'Distributed training: True' in log and 'GPU number: 2' in log  # mmengine's name for world size

    proc = dist_train(str(cfg), work)
    deadline = time.time() + 300
    while len(lines(osp.join(work, 'samples.rank0'))) < 3 * BATCH and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)  # as a cluster ends a job: every process of it
    log = finish(proc, work, ok=False)
    assert 'stopping after iteration' in log, log[-6000:]
    stopped = open(osp.join(work, 'last_checkpoint')).read().strip()
    done = int(osp.basename(stopped)[len('iter_'):-len('.pth')])
    assert 3 <= done < MAX_ITERS, log[-6000:]
    assert len(lines(osp.join(work, 'samples.rank1'))) == done * BATCH

    log = finish(dist_train(str(cfg), work, '--resume'), work)
    assert f'Passed over the {done} trained batches without loading them' in log
    for rank in (0, 1):
        seen = lines(osp.join(work, f'samples.rank{rank}'))
        assert seen == lines(osp.join(whole, f'samples.rank{rank}')) and len(seen) == MAX_ITERS * BATCH
    assert max_abs_diff(osp.join(work, f'iter_{MAX_ITERS}.pth'), osp.join(whole, f'iter_{MAX_ITERS}.pth')) <= 1e-6
