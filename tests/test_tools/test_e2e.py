"""End to end through tools/train.py and tools/test.py on test-made data sets (tools/dist_train.sh with two
processes: test_e2e_preemption.py)."""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import List

import pytest

from mmvision_mamba.testing import make_ade_shapes, make_coco_shapes

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
pytestmark = pytest.mark.e2e

DET_CFG = '''_base_ = {base!r}
data_root = {root!r}
train_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
model = dict(backbone=dict(window_size=(8, 8, 4, 2)))
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1), logger=dict(interval=1))
'''

# ADE20K-format toy data at 64 px crops, the data part of the tiny segmentation configs (a str.format
# template: fill in root)
ADE_64PX_DATA = '''data_root = {root!r}
crop_size = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
'''

SEG_CFG = '''_base_ = {base!r}
''' + ADE_64PX_DATA + '''model = dict(data_preprocessor=dict(size=crop_size),
             backbone=dict(window_size=(8, 8, 4, 2), init_cfg=None))
train_cfg = dict(max_iters=2, val_interval=2)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2)]
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
'''


def run(args: List[str], cwd: str = ROOT, **env) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHONUNBUFFERED='1', **env))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def free_port() -> str:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def last_metrics(work_dir: str) -> dict:
    return json.load(open(sorted(glob.glob(osp.join(work_dir, '2*', '2*.json')))[-1]))


@pytest.fixture(scope='module')
def det_config(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp('det')
    root = make_coco_shapes(str(tmp / 'coco'), num_train=4, num_val=2, size=64) + '/'
    path = tmp / 'det_cfg.py'
    path.write_text(DET_CFG.format(base=osp.join(ROOT, 'configs/det/quickstart_mask_rcnn_mambavision_t_shapes.py'),
                                   root=root))
    return str(path)


def test_mask_rcnn_train_resume_test(det_config: str, tmp_path) -> None:
    work = str(tmp_path / 'work')
    py = sys.executable
    first = run([py, 'tools/train.py', det_config, '--work-dir', work, '--amp'])
    assert 'training in fp32 on the CPU' in first.stderr + first.stdout
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    resumed = run([py, 'tools/train.py', det_config, '--work-dir', work, '--resume',
                   '--cfg-options', 'train_cfg.max_epochs=2'])
    assert 'resumed epoch: 1' in resumed.stdout + resumed.stderr
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))
    run([py, 'tools/test.py', det_config, osp.join(work, 'epoch_2.pth'), '--work-dir', work,
         '--show-dir', 'vis'])
    metrics = last_metrics(work)
    assert {'coco/bbox_mAP', 'coco/segm_mAP'} <= metrics.keys()
    assert glob.glob(osp.join(work, '2*', 'vis', '*.png'))


def test_upernet_train_resume_test(tmp_path) -> None:
    root = make_ade_shapes(str(tmp_path / 'ade'), num_train=4, num_val=2, size=96) + '/'
    cfg = tmp_path / 'seg_cfg.py'
    cfg.write_text(SEG_CFG.format(base=osp.join(ROOT, 'configs/seg/upernet_mambavision_t_512x512_160k_ade20k.py'),
                                  root=root))
    work = str(tmp_path / 'work')
    py = sys.executable
    run([py, 'tools/train.py', str(cfg), '--work-dir', work])
    resumed = run([py, 'tools/train.py', str(cfg), '--work-dir', work, '--resume',
                   '--cfg-options', 'train_cfg.max_iters=4', 'train_cfg.val_interval=4'])
    assert 'resumed epoch: 0, iter: 2' in resumed.stdout + resumed.stderr
    run([py, 'tools/test.py', str(cfg), osp.join(work, 'iter_4.pth'), '--work-dir', work])
    assert 'mIoU' in last_metrics(work)


@pytest.mark.parametrize('config,where', [('configs/det/mask_rcnn_mambavision_t.py', 'data/coco/'),
                                          ('configs/seg/upernet_mambavision_t_512x512_160k_ade20k.py',
                                           'data/ade/ADEChallengeData2016')])
def test_missing_data_fails_fast(config: str, where: str, tmp_path) -> None:
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools/train.py'), osp.join(ROOT, config)],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert where in proc.stderr and 'data not found' in proc.stderr
    assert 'Traceback' not in proc.stderr
