"""apply_tta / derive_tta_pipeline: the config shaping behind tools/test.py --tta (no model is built)."""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config

from mmvision_mamba.apis.tta import DET_RATIOS, SEG_RATIOS, apply_tta, derive_tta_pipeline

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET = osp.join(ROOT, 'configs/det/mask_rcnn_mambavision_t.py')
CASCADE = osp.join(ROOT, 'configs/det/cascade_mask_rcnn_mambavision_t_3x.py')
SEG = osp.join(ROOT, 'configs/seg/upernet_mambavision_t_512x512_160k_ade20k.py')


def plain(obj):
    """Tuples as lists, ConfigDicts as dicts: for comparing pipelines."""
    return json.loads(json.dumps(obj))


def views(pipeline: list) -> list:
    tta = pipeline[-1]
    assert tta['type'] == 'TestTimeAug'
    return tta['transforms']


def test_derived_pipeline_scales_the_test_scale() -> None:
    test = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 512), keep_ratio=True),
            dict(type='LoadAnnotations', reduce_zero_label=True), dict(type='PackSegInputs')]
    tta = derive_tta_pipeline(test, SEG_RATIOS)
    assert tta[0] == test[0]
    resizes, flips, load, pack = views(tta)
    assert [r['scale'] for r in resizes] == [
        (1024, 256), (1536, 384), (2048, 512), (2560, 640), (3072, 768), (3584, 896)]
    assert all(r['keep_ratio'] for r in resizes)
    assert [f['prob'] for f in flips] == [0., 1.]
    assert load == [test[2]] and pack == [test[3]]


def test_derived_det_pipeline_packs_the_flip() -> None:
    test = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1333, 800), keep_ratio=True),
            dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]
    resizes, _, (pack,) = views(derive_tta_pipeline(test, DET_RATIOS))
    assert [r['scale'] for r in resizes] == [(999, 600), (1333, 800), (1666, 1000)]
    assert pack['meta_keys'][-2:] == ('flip', 'flip_direction')


@pytest.mark.parametrize('path', sorted(glob.glob(osp.join(ROOT, 'configs/seg/upernet_*.py'))))
def test_upernet_configs_augment_their_test_scale(path: str) -> None:
    """mmseg's ADE20K bases scale the original image; ours scale the config's test scale (640 for L3)."""
    cfg = Config.fromfile(path)
    test = cfg.test_dataloader.dataset.pipeline
    assert plain(cfg.tta_pipeline) == plain(derive_tta_pipeline(test, SEG_RATIOS))
    scale = 640 if '640x640' in path else 512
    assert plain(views(cfg.tta_pipeline)[0][2]['scale'])[1] == scale


def test_seg_config_gets_seg_tta_model() -> None:
    cfg = Config.fromfile(SEG)
    pipeline = cfg.tta_pipeline
    message = apply_tta(cfg)
    assert cfg.model.type == 'SegTTAModel' and cfg.model.module.backbone.type == 'MambaVision'
    assert cfg.test_dataloader.dataset.pipeline == pipeline
    assert "config's tta_pipeline" in message
    with pytest.raises(ValueError, match='--tta-box-only is for detectors'):
        apply_tta(Config.fromfile(SEG), box_only=True)


@pytest.mark.parametrize('path', [DET, CASCADE])
def test_mask_heads_need_box_only(path: str) -> None:
    cfg = Config.fromfile(path)
    with pytest.raises(ValueError, match='merges boxes only.*--tta-box-only'):
        apply_tta(cfg)
    message = apply_tta(cfg, box_only=True)
    assert 'mask head dropped' in message and 'scale x [0.75, 1.0, 1.25], each also flipped' in message
    module = cfg.model.module
    assert cfg.model.type == 'DetTTAModel' and module.roi_head.mask_head is None
    assert module.roi_head.mask_roi_extractor is None and cfg.test_evaluator.metric == ['bbox']
    resizes, flips, *_ = views(cfg.test_dataloader.dataset.pipeline)
    assert len(resizes) == 3 and len(flips) == 2


def test_boxes_only_detector_needs_no_flag(tmp_path) -> None:
    path = tmp_path / 'faster.py'
    path.write_text(f'_base_ = {DET!r}\nmodel = dict(roi_head=dict(mask_head=None, mask_roi_extractor=None))\n'
                    "test_evaluator = dict(metric='bbox')\n")
    cfg = Config.fromfile(str(path))
    assert 'predicts boxes only' in apply_tta(cfg)


@pytest.mark.parametrize('model,metric', [(dict(type='Mask2Former', panoptic_head=dict(type='x')), 'PQ'),
                                          (dict(type='RTMDet', bbox_head=dict(type='RTMDetInsSepBNHead')),
                                           ['bbox', 'segm'])])
def test_masks_that_cannot_be_dropped_are_refused(model: dict, metric) -> None:
    cfg = Config(dict(default_scope='mmdet', model=model, test_evaluator=dict(type='CocoMetric', metric=metric),
                      test_dataloader=dict(dataset=dict(pipeline=[]))))
    with pytest.raises(ValueError, match='predicts masks.*cannot be test-time augmented'):
        apply_tta(cfg, box_only=True)


def test_pipeline_without_resize_is_refused(tmp_path) -> None:
    path = tmp_path / 'no_resize.py'
    path.write_text(f"_base_ = {SEG!r}\ntta_pipeline = None\n"
                    "test_dataloader = dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile'), "
                    "dict(type='PackSegInputs')]))\n")
    cfg = Config.fromfile(str(path))
    with pytest.raises(ValueError, match=r"Resize\(scale=...\).*Give the config a `tta_pipeline`"):
        apply_tta(cfg)


def test_other_scopes_are_refused() -> None:
    with pytest.raises(ValueError, match="default_scope is 'mmpretrain'"):
        apply_tta(Config(dict(default_scope='mmpretrain', model=dict(type='ImageClassifier'))))
