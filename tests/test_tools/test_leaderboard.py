"""tools/test.py for leaderboard runs: --tta, and the COCO test-dev / ADE20K test-set server files, on toy data
with tiny randomly initialised models; and its refusals of bad input (before any model is built)."""
import glob
import json
import os
import os.path as osp
import runpy
import shutil
import subprocess
import sys
from typing import Callable, List

import cv2
import numpy as np
import pytest
import torch

from mmvision_mamba.testing import make_ade_shapes, make_coco_shapes

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TEST = osp.join(ROOT, 'tools/test.py')
COCO_TEST_DEV = osp.join(ROOT, 'configs/_base_/coco_test_dev.py')
ADE_TEST = osp.join(ROOT, 'configs/_base_/ade20k_test.py')

DET_CFG = '''_base_ = {tiny!r}
data_root = {root!r}
metainfo = dict(classes=('rectangle', 'ellipse', 'triangle'))
model = dict(roi_head=dict(bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))
test_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_val.json', data_prefix=dict(img='val/')))
test_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
'''

SEG_CFG = '''_base_ = {tiny!r}
data_root = {root!r}
test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
tta_pipeline = None  # derived from the 64 px test pipeline
'''


def run(args: List[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, TEST] + args, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONUNBUFFERED='1'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def random_checkpoint(config: str, path: str) -> str:
    """Saves the randomly initialised model of `config` (a wider classifier, so that views disagree)."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    model.init_weights()
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        if 'conv_seg' in name or 'fc_cls' in name:
            p.data.normal_(0, 1)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def last_metrics(work_dir: str) -> dict:
    return json.load(open(sorted(glob.glob(osp.join(work_dir, '2*', '2*.json')))[-1]))


@pytest.fixture
def bad_run(tmp_path, monkeypatch) -> Callable[[List[str]], str]:
    """Runs tools/test.py's main in an otherwise empty folder with ckpt.pth; returns its exit message."""
    main = runpy.run_path(TEST)['main']
    os.makedirs(str(tmp_path / 'run'))
    monkeypatch.chdir(str(tmp_path / 'run'))
    monkeypatch.setenv('LOCAL_RANK', '0')  # load_run_config sets it
    torch.save({'state_dict': {}}, 'ckpt.pth')

    def bad_run(args: List[str]) -> str:
        monkeypatch.setattr(sys, 'argv', [TEST] + args)
        with pytest.raises(SystemExit) as e:
            main()
        assert os.listdir('.') == ['ckpt.pth'], 'a refused run left files behind'
        return str(e.value.code)
    return bad_run


def test_refusals_name_the_fix(tiny_configs, bad_run, tmp_path) -> None:
    err = bad_run([tiny_configs['det'], 'ckpt.pth', '--format-only'])
    assert err.startswith('error: ') and 'add --out-dir DIR' in err
    err = bad_run([tiny_configs['det'], 'ckpt.pth', '--tta'])
    assert 'merges boxes only' in err and 'Add --tta-box-only' in err
    err = bad_run([tiny_configs['det'], 'ckpt.pth', '--test-data', COCO_TEST_DEV, '--out-dir', 'sub'])
    assert 'data/coco/annotations/image_info_test-dev2017.json' in err and 'image_info_test2017.zip' in err
    err = bad_run([tiny_configs['seg'], 'ckpt.pth', '--test-data', ADE_TEST, '--out-dir', 'sub'])
    assert 'data/ade/release_test/testing' in err and 'release_test.zip' in err
    config = tmp_path / 'no_resize.py'
    config.write_text(f"_base_ = {tiny_configs['seg']!r}\ntta_pipeline = None\n"
                      "test_dataloader = dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile'), "
                      "dict(type='PackSegInputs')]))\n")
    assert 'Give the config a `tta_pipeline`' in bad_run([str(config), 'ckpt.pth', '--tta'])


def coco_test_dev(root: str) -> str:
    """A COCO-layout toy set whose test-dev split holds the val images without labels (same ids)."""
    make_coco_shapes(root, num_train=0, num_val=2, size=64)
    shutil.copytree(osp.join(root, 'val'), osp.join(root, 'test2017'))
    val = json.load(open(osp.join(root, 'annotations', 'instances_val.json')))
    with open(osp.join(root, 'annotations', 'image_info_test-dev2017.json'), 'w') as f:
        json.dump(dict(images=val['images'], categories=val['categories']), f)
    return root + '/'


@pytest.mark.e2e
def test_coco_test_dev_files_and_box_tta(tiny_configs, tmp_path) -> None:
    from pycocotools.coco import COCO
    root = coco_test_dev(str(tmp_path / 'coco'))
    config = tmp_path / 'det.py'
    config.write_text(DET_CFG.format(tiny=tiny_configs['det'], root=root))
    ckpt = random_checkpoint(str(config), str(tmp_path / 'det.pth'))
    work = str(tmp_path / 'work')

    run([str(config), ckpt, '--test-data', COCO_TEST_DEV, '--out-dir', str(tmp_path / 'sub'), '--work-dir', work])
    gt = COCO(root + 'annotations/image_info_test-dev2017.json')
    single = {}
    for task in ('bbox', 'segm'):
        (path,) = glob.glob(str(tmp_path / 'sub' / task / '*'))
        assert osp.basename(path) == 'detections_test-dev2017_det_results.json'
        dets = gt.loadRes(path)
        assert set(dets.getImgIds()) == set(gt.getImgIds())
        assert set(dets.getCatIds()) <= {1, 2, 3}
        single[task] = json.load(open(path))
    assert all(isinstance(d['segmentation']['counts'], str) for d in single['segm'])

    proc = run([str(config), ckpt, '--tta-box-only', '--out-dir', str(tmp_path / 'tta'), '--work-dir', work])
    log = proc.stdout + proc.stderr
    assert 'DetTTAModel over the test pipeline\'s scale x [0.75, 1.0, 1.25], each also flipped' in log
    # the weights reach the model inside DetTTAModel, all but the dropped mask head's
    assert 'unexpected key in source state_dict: roi_head.mask_head.' in log and 'missing keys' not in log
    metrics = last_metrics(work)
    assert 'coco/bbox_mAP' in metrics and 'coco/segm_mAP' not in metrics
    assert not glob.glob(str(tmp_path / 'tta' / 'segm' / '*'))
    (path,) = glob.glob(str(tmp_path / 'tta' / 'bbox' / '*'))
    tta = json.load(open(path))
    assert {d['image_id'] for d in tta} == {d['image_id'] for d in single['bbox']}
    boxes = lambda dets: sorted(tuple(np.round(d['bbox'], 1)) for d in dets)  # noqa: E731
    assert boxes(tta) != boxes(single['bbox'])


@pytest.mark.e2e
def test_ade20k_test_set_pngs_and_tta(tiny_configs, tmp_path) -> None:
    root = make_ade_shapes(str(tmp_path / 'ade'), num_train=0, num_val=2, size=80)
    os.makedirs(str(tmp_path / 'release_test' / 'testing'))
    val_images = sorted(glob.glob(osp.join(root, 'images', 'validation', '*.jpg')))
    for i, path in enumerate(val_images):
        shutil.copy(path, str(tmp_path / 'release_test' / 'testing' / f'ADE_test_{i + 1:08d}.jpg'))
    config = tmp_path / 'seg.py'
    config.write_text(SEG_CFG.format(tiny=tiny_configs['seg'], root=root))
    ckpt = random_checkpoint(str(config), str(tmp_path / 'seg.pth'))
    work = str(tmp_path / 'work')

    run([str(config), ckpt, '--test-data', ADE_TEST, '--out-dir', str(tmp_path / 'sub'), '--work-dir', work,
         '--cfg-options', f'test_dataloader.dataset.data_root={tmp_path / "release_test"}'])
    single = sorted(glob.glob(str(tmp_path / 'sub' / '*')))
    assert [osp.basename(p) for p in single] == ['ADE_test_00000001.png', 'ADE_test_00000002.png']
    single = [cv2.imread(p, cv2.IMREAD_UNCHANGED) for p in single]
    for label in single:
        assert label.shape == (80, 80) and label.dtype == np.uint8
        assert 1 <= label.min() and label.max() <= 150  # the server's labels: 1..150

    proc = run([str(config), ckpt, '--tta', '--out-dir', str(tmp_path / 'tta'), '--work-dir', work])
    assert 'do not match' not in proc.stdout + proc.stderr  # the weights reach the model inside SegTTAModel
    assert 'mIoU' in last_metrics(work)
    tta = [cv2.imread(p, cv2.IMREAD_UNCHANGED) for p in sorted(glob.glob(str(tmp_path / 'tta' / '*.png')))]
    assert len(tta) == 2 and all(t.shape == (80, 80) for t in tta)
    assert any((t != s).any() for t, s in zip(tta, single))
