"""Shared fixtures: tiny mmdet / mmseg configs (small custom arch, small heads, 64-128 px test pipelines) on the
repository's recipes, and a small picture."""
import os.path as osp

import numpy as np
import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', 'e2e: slow end-to-end runs (training through tools/)')


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_ARCH = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2))
# a dict arch replaces the base's arch name
ARCH = f'dict(_delete_=True, **{TINY_ARCH!r})'

DET_CFG = f'''_base_ = {osp.join(ROOT, 'configs/det/mask_rcnn_mambavision_t.py')!r}
model = dict(
    backbone=dict(arch={ARCH}, window_size=(4, 4, 4, 2), drop_path_rate=0., init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=32), bbox_head=dict(in_channels=32, fc_out_channels=64),
                  mask_roi_extractor=dict(out_channels=32), mask_head=dict(in_channels=32, conv_out_channels=32)),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=20), rcnn=dict(score_thr=0., max_per_img=10)))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(96, 96), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
'''

SEG_CFG = f'''_base_ = {osp.join(ROOT, 'configs/seg/upernet_mambavision_t_512x512_160k_ade20k.py')!r}
crop_size = (64, 64)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch={ARCH}, window_size=(4, 4, 4, 2), drop_path_rate=0., init_cfg=None),
    decode_head=dict(in_channels=[16, 32, 64, 128], channels=32),
    auxiliary_head=dict(in_channels=64, channels=16))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
'''


@pytest.fixture(scope='session')
def tiny_configs(tmp_path_factory) -> dict:
    """{'det': path, 'seg': path} of tiny Mask R-CNN / UperNet configs on the repository's recipes."""
    root = tmp_path_factory.mktemp('configs')
    paths = {}
    for name, text in (('det', DET_CFG), ('seg', SEG_CFG)):
        paths[name] = str(root / f'tiny_{name}.py')
        with open(paths[name], 'w') as f:
            f.write(text)
    return paths


@pytest.fixture(scope='session')
def image_file(tmp_path_factory) -> str:
    """A 80x96 picture of a few coloured rectangles."""
    import cv2
    img = np.full((80, 96, 3), 230, np.uint8)
    img[10:50, 8:40] = (40, 40, 200)
    img[30:70, 50:90] = (200, 120, 30)
    path = str(tmp_path_factory.mktemp('images') / 'shapes.png')
    cv2.imwrite(path, img)
    return path
