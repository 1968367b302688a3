"""DINO and Mask2Former configs end to end: tools/train.py builds one config of each recipe (DINO, Mask2Former
on COCO and on ADE20K; tests/test_configs.py says why one is enough), trains 2 iterations and validates.

Each run overrides only what the CPU and the toy data need: a small custom backbone arch (the
config's windows and window mode stay), the toy data set and its classes, 64 px pipelines, fewer
queries / transformer layers / sampled points, 2 iterations. The configs' optimizers, schedulers,
hooks and evaluators run as configured.
"""
import glob
import json
import math
import os.path as osp
import sys
from pathlib import Path

import pytest

from mmvision_mamba.testing import SHAPE_CLASSES, SHAPE_PALETTE, make_ade_shapes, make_coco_shapes
from tests.test_configs import QUERY_E2E_CONFIGS, SMALL_ARCH, SMALL_CHANNELS
from tests.test_tools.test_e2e import ADE_64PX_DATA, run

pytestmark = pytest.mark.e2e

_ARCH = ', '.join(f'{key}={value!r}' for key, value in SMALL_ARCH.items())
BACKBONE = f'backbone=dict(arch=dict(_delete_=True, {_ARCH}), drop_path_rate=0., init_cfg=None)'
NUM_CLASSES = len(SHAPE_CLASSES)
M2F_HEAD = ('num_queries=20, pixel_decoder=dict(encoder=dict(num_layers=1)), '
            'transformer_decoder=dict(num_layers=3)')

COCO_DATA = f'''data_root = {{root!r}}
metainfo = dict(classes={SHAPE_CLASSES!r}, palette={SHAPE_PALETTE!r})
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_train.json',
    data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_val.json',
    data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
'''

DINO_CFG = f'''_base_ = {{base!r}}
{COCO_DATA}
model = dict(
    {BACKBONE},
    neck=dict(in_channels={SMALL_CHANNELS!r}),
    num_queries=50,
    encoder=dict(num_layers=1),
    decoder=dict(num_layers=2),
    bbox_head=dict(num_classes={NUM_CLASSES}),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=10)),
    test_cfg=dict(max_per_img=20))
train_cfg = dict(max_epochs=1, val_interval=1)  # 4 images, 2 per batch: 2 iterations
default_hooks = dict(checkpoint=dict(interval=1), logger=dict(interval=1))
'''

M2F_DET_CFG = f'''_base_ = {{base!r}}
{COCO_DATA}
model = dict(
    data_preprocessor=dict(batch_augments=[dict(type='BatchFixedSizePad', size=(64, 64), img_pad_value=0,
                                                pad_mask=True, mask_pad_value=0, pad_seg=False)]),
    {BACKBONE},
    panoptic_head=dict(in_channels={SMALL_CHANNELS!r}, {M2F_HEAD}, num_things_classes={NUM_CLASSES},
                       loss_cls=dict(class_weight=[1.0] * {NUM_CLASSES} + [0.1])),
    panoptic_fusion_head=dict(num_things_classes={NUM_CLASSES}),
    train_cfg=dict(num_points=1024),
    test_cfg=dict(max_per_image=20))
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
'''

M2F_SEG_CFG = '''_base_ = {base!r}
''' + ADE_64PX_DATA + f'''model = dict(
    data_preprocessor=dict(size=crop_size),
    {BACKBONE},
    decode_head=dict(in_channels={SMALL_CHANNELS!r}, {M2F_HEAD}, train_cfg=dict(num_points=1024)))
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
'''


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory) -> str:
    return make_coco_shapes(str(tmp_path_factory.mktemp('coco')), num_train=4, num_val=2, size=64) + '/'


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory) -> str:
    return make_ade_shapes(str(tmp_path_factory.mktemp('ade')), num_train=4, num_val=2, size=96) + '/'


@pytest.mark.parametrize('path', QUERY_E2E_CONFIGS, ids=[p.stem for p in QUERY_E2E_CONFIGS])
def test_train_two_iterations(path: Path, request, tmp_path) -> None:
    if path.stem.startswith('dino'):
        template, root, metric = DINO_CFG, request.getfixturevalue('coco_root'), 'coco/bbox_mAP'
    elif path.parent.name == 'det':
        template, root, metric = M2F_DET_CFG, request.getfixturevalue('coco_root'), 'coco/segm_mAP'
    else:
        template, root, metric = M2F_SEG_CFG, request.getfixturevalue('ade_root'), 'mIoU'
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(template.format(base=str(path), root=root))
    work = str(tmp_path / 'work')
    run([sys.executable, 'tools/train.py', str(cfg), '--work-dir', work])
    scalars = glob.glob(osp.join(work, '2*', 'vis_data', 'scalars.json'))[0]
    logs = [json.loads(line) for line in open(scalars)]
    train_logs = [log for log in logs if 'loss' in log]
    assert [log['iter'] for log in train_logs] == [1, 2]
    assert all(math.isfinite(log['loss']) for log in train_logs)
    assert any(metric in log for log in logs)  # the validation after them
