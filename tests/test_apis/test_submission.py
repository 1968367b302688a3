"""apply_test_data / prepare_submission / finish_submission: the test-server side of tools/test.py."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmvision_mamba.apis.submission import apply_test_data, finish_submission, prepare_submission

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET = osp.join(ROOT, 'configs/det/cascade_mask_rcnn_mambavision_t_3x.py')
SEG = osp.join(ROOT, 'configs/seg/upernet_mambavision_l3_640x640_160k_ade20k.py')
COCO_TEST_DEV = osp.join(ROOT, 'configs/_base_/coco_test_dev.py')
ADE_TEST = osp.join(ROOT, 'configs/_base_/ade20k_test.py')


def types(pipeline: list) -> list:
    return [t['type'] for t in pipeline]


def test_coco_test_dev_split() -> None:
    cfg = Config.fromfile(DET)
    apply_test_data(cfg, COCO_TEST_DEV)
    ds = cfg.test_dataloader.dataset
    assert (ds.data_root, ds.ann_file, ds.data_prefix.img) == (
        'data/coco/', 'annotations/image_info_test-dev2017.json', 'test2017/')
    assert ds.test_mode and cfg.test_evaluator.format_only
    assert cfg.val_dataloader.dataset.ann_file == 'annotations/instances_val2017.json'


def test_ade_test_split_has_no_label_folder() -> None:
    cfg = Config.fromfile(SEG)
    apply_test_data(cfg, ADE_TEST)
    ds = cfg.test_dataloader.dataset
    assert ds.data_root == 'data/ade/release_test' and ds.data_prefix == dict(img_path='testing')
    assert cfg.test_evaluator.format_only


def test_test_data_config_sets_only_the_test_split(tmp_path) -> None:
    path = tmp_path / 'bad.py'
    path.write_text("test_dataloader = dict(batch_size=1)\nmodel = dict(type='X')\n")
    with pytest.raises(ValueError, match=r"sets only \['test_dataloader', 'test_evaluator'\].*\['model'\]"):
        apply_test_data(Config.fromfile(DET), str(path))
    with pytest.raises(ValueError, match='no such file'):
        apply_test_data(Config.fromfile(DET), str(tmp_path / 'none.py'))


def test_format_only_needs_an_empty_out_dir(tmp_path) -> None:
    cfg = Config.fromfile(DET)
    with pytest.raises(ValueError, match='add --out-dir DIR'):
        prepare_submission(cfg, None, format_only=True)
    apply_test_data(cfg, COCO_TEST_DEV)
    with pytest.raises(ValueError, match='add --out-dir DIR'):
        prepare_submission(cfg, None)
    (tmp_path / 'old.json').write_text('[]')
    with pytest.raises(ValueError, match='is not empty'):
        prepare_submission(cfg, str(tmp_path))
    prepare_submission(Config.fromfile(DET), None)  # plain evaluation: nothing to prepare


def test_coco_format_only_writes_no_labels(tmp_path) -> None:
    cfg = Config.fromfile(DET)
    apply_test_data(cfg, COCO_TEST_DEV)
    out = str(tmp_path / 'sub')
    cfg.test_dataloader.dataset.data_root = '/elsewhere/coco/'  # as --cfg-options would
    prepare_submission(cfg, out)
    assert cfg.test_evaluator.outfile_prefix == osp.join(out, 'results')
    assert cfg.test_evaluator.ann_file == '/elsewhere/coco/annotations/image_info_test-dev2017.json'
    assert 'LoadAnnotations' not in types(cfg.test_dataloader.dataset.pipeline)
    assert not osp.exists(out)


def test_seg_format_only_drops_labels_from_tta_too(tmp_path) -> None:
    cfg = Config.fromfile(SEG)
    apply_test_data(cfg, ADE_TEST)
    prepare_submission(cfg, str(tmp_path))
    assert cfg.test_evaluator.output_dir == str(tmp_path) and cfg.test_evaluator.format_only
    assert 'LoadAnnotations' not in types(cfg.test_dataloader.dataset.pipeline)
    steps = cfg.tta_pipeline[-1]['transforms']
    assert [types(s) for s in steps[2:]] == [['PackSegInputs']]


def test_evaluation_with_out_dir_keeps_labels(tmp_path) -> None:
    cfg = Config.fromfile(SEG)
    prepare_submission(cfg, str(tmp_path))
    assert not cfg.test_evaluator.format_only
    assert 'LoadAnnotations' in types(cfg.test_dataloader.dataset.pipeline)


def test_other_evaluators_are_refused(tmp_path) -> None:
    cfg = Config(dict(test_evaluator=dict(type='VOCMetric'), test_dataloader=dict(dataset=dict(pipeline=[]))))
    with pytest.raises(ValueError, match=r"CocoMetric.*IoUMetric.*\['VOCMetric'\]"):
        prepare_submission(cfg, str(tmp_path / 'x'))


def test_coco_results_get_the_server_names(tmp_path) -> None:
    cfg = Config.fromfile(DET)
    apply_test_data(cfg, COCO_TEST_DEV)
    prepare_submission(cfg, str(tmp_path))
    for task in ('bbox', 'segm'):
        (tmp_path / f'results.{task}.json').write_text('[]')
    files = finish_submission(cfg, str(tmp_path))
    name = 'detections_test-dev2017_cascade-mask-rcnn-mambavision-t-3x_results.json'
    assert files == [str(tmp_path / 'bbox' / name), str(tmp_path / 'segm' / name)]
