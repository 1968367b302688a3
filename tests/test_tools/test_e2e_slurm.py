"""Slurm end to end, on a one-node Slurm of the test's own (tools/dev/local_slurm.sh): a 2-task (gloo, CPU) tiny
Mask R-CNN trained by `sbatch tools/slurm_train.sbatch`, sent SIGUSR1 in the middle of an epoch, writes the
checkpoint of that iteration, requeues itself, resumes and ends as an uninterrupted run of tools/slurm_train.sh;
tools/slurm_test.sh evaluates it."""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
from typing import Dict

import pytest

from mmvision_mamba.testing import make_coco_shapes
from tests.test_tools.test_e2e import free_port
from tests.test_tools.test_e2e_preemption import lines, max_abs_diff

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))
pytestmark = pytest.mark.e2e
PER_EPOCH = 6  # iterations of an epoch: 12 images, 2 tasks, 1 image each
EPOCHS = 2

DET_CFG = '''_base_ = {base!r}
custom_imports = dict(imports=['mmvision_mamba', 'record_samples'], allow_failed_imports=False)
data_root = {root!r}
image_size = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=1, num_workers=0,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, num_workers=0, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
model = dict(
    backbone=dict(arch=dict(_delete_=True, dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2)),
                  window_size=(4, 4, 4, 2)),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=32), bbox_head=dict(in_channels=32, fc_out_channels=64),
                  mask_roi_extractor=dict(out_channels=32), mask_head=dict(in_channels=32, conv_out_channels=32)),
    train_cfg=dict(rpn_proposal=dict(max_per_img=50), rcnn=dict(sampler=dict(num=16))),
    test_cfg=dict(rpn=dict(nms_pre=100, max_per_img=20), rcnn=dict(score_thr=0., max_per_img=10)))
train_cfg = dict(max_epochs={epochs}, val_interval=100)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end={iters}),
                   dict(type='MultiStepLR', by_epoch=True, milestones=[1], gamma=0.5)]
default_hooks = dict(checkpoint=dict(interval={epochs}), logger=dict(interval=1))
custom_hooks = [dict(type='RecordSamplesHook')]
randomness = dict(seed=5, deterministic=True)
'''


def _unavailable() -> str:
    missing = [exe for exe in ('munged', 'slurmctld', 'slurmd', 'sbatch') if shutil.which(exe) is None]
    if missing:
        return (f'Slurm is not installed ({", ".join(missing)} missing): as root, bash tools/dev/install_slurm.sh '
                '(make test does it where it can)')
    if os.geteuid() != 0:
        return 'the local Slurm runs as root (SlurmUser=root) and this is not root'
    return ''


@pytest.fixture(scope='module')
def slurm(tmp_path_factory) -> Dict[str, str]:
    """The environment of a running one-node Slurm (SLURM_CONF), stopped after the module."""
    why = _unavailable()
    if why:
        pytest.skip(why)
    folder = str(tmp_path_factory.mktemp('slurm'))
    script = osp.join(ROOT, 'tools/dev/local_slurm.sh')
    subprocess.run(['bash', script, 'start', folder], check=True, capture_output=True, timeout=120)
    yield dict(os.environ, SLURM_CONF=osp.join(folder, 'slurm.conf'))
    subprocess.run(['bash', script, 'stop', folder], capture_output=True, timeout=120)


def _job(env: dict, job_id: str) -> Dict[str, str]:
    shown = subprocess.run(['scontrol', 'show', 'job', '-o', job_id], env=env, capture_output=True, text=True)
    return dict(re.findall(r'(\w+)=(\S*)', shown.stdout))


def test_sbatch_preempted_requeued_resumed_is_exact(slurm: dict, tmp_path) -> None:
    root = make_coco_shapes(str(tmp_path / 'coco'), num_train=2 * PER_EPOCH, num_val=2, size=64) + '/'
    cfg = str(tmp_path / 'det_cfg.py')
    with open(cfg, 'w') as f:
        f.write(DET_CFG.format(base=osp.join(ROOT, 'configs/det/quickstart_mask_rcnn_mambavision_t_shapes.py'),
                               root=root, epochs=EPOCHS, iters=EPOCHS * PER_EPOCH))
    env = dict(slurm, PYTHON=sys.executable, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
               PYTHONPATH=os.pathsep.join(p for p in (HERE, os.environ.get('PYTHONPATH')) if p))
    whole, work = str(tmp_path / 'whole'), str(tmp_path / 'work')
    final = f'epoch_{EPOCHS}.pth'

    ran = subprocess.run(['bash', 'tools/slurm_train.sh', 'local', 'whole', cfg, whole], cwd=ROOT, capture_output=True,
                         text=True, timeout=600, env=dict(env, GPUS='2', GPUS_PER_NODE='0', CPUS_PER_TASK='1',
                                                          MASTER_PORT=free_port()))
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-5000:]
    assert osp.isfile(osp.join(whole, final))

    out = str(tmp_path / 'job.out')
    job = subprocess.run(['sbatch', '--parsable', '-p', 'local', '-J', 'preempt', '--ntasks=2', '--cpus-per-task=1',
                          f'--output={out}', 'tools/slurm_train.sbatch', cfg, work], cwd=ROOT, env=dict(
                              env, MASTER_PORT=free_port()), capture_output=True, text=True, check=True).stdout.strip()
    log = lambda: open(out).read() if osp.exists(out) else ''  # noqa: E731
    deadline = time.time() + 400
    # the signal during the 2nd iteration of epoch 2
    while len(lines(osp.join(work, 'samples.rank0'))) < PER_EPOCH + 2 and time.time() < deadline:
        assert _job(slurm, job).get('JobState') in ('PENDING', 'RUNNING'), log()[-6000:]
        time.sleep(0.2)
    subprocess.run(['scancel', '--signal=USR1', '--full', job], env=slurm, check=True)
    requeued = False
    while time.time() < deadline:
        state = _job(slurm, job)
        if state.get('JobState') == 'PENDING' and state.get('Restarts') == '1' and not requeued:
            # Slurm holds a requeued job for 2 minutes; start it now
            subprocess.run(['scontrol', 'update', f'JobId={job}', 'StartTime=now'], env=slurm, check=True)
            requeued = True
        if state.get('JobState') in ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'):
            break
        time.sleep(0.5)
    text = log()
    assert requeued and state.get('JobState') == 'COMPLETED', text[-8000:]
    assert 'Requeued Slurm job' in text and 'start 1' in text
    stop = re.search(r'stopping after iteration (\d+)', text)
    assert stop and PER_EPOCH < int(stop.group(1)) < EPOCHS * PER_EPOCH, text[-8000:]
    assert f'Continuing epoch 2 at batch {int(stop.group(1)) - PER_EPOCH + 1}' in text
    for rank in (0, 1):
        seen = lines(osp.join(work, f'samples.rank{rank}'))
        assert seen == lines(osp.join(whole, f'samples.rank{rank}')) and len(seen) == EPOCHS * PER_EPOCH
    assert max_abs_diff(osp.join(work, final), osp.join(whole, final)) <= 1e-6

    tested = subprocess.run(['bash', 'tools/slurm_test.sh', 'local', 'test', cfg, osp.join(work, final),
                             '--work-dir', work], cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env=dict(env, GPUS='2', GPUS_PER_NODE='0', CPUS_PER_TASK='1', MASTER_PORT=free_port()))
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-5000:]
    assert 'coco/bbox_mAP' in tested.stdout + tested.stderr
