"""demo_det_inputs / demo_seg_inputs: the made-up mmdet / mmseg batches of the tests, benchmark and tensor_forward."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmvision_mamba.testing import DEMO_BOXES, demo_det_inputs, demo_mm_inputs, demo_seg_inputs

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_det_batch() -> None:
    pytest.importorskip('mmdet')
    batch = demo_det_inputs(2, (48, 64), num_boxes=2)
    assert [x.shape for x in batch['inputs']] == [(3, 48, 64)] * 2 and batch['inputs'][0].dtype == torch.uint8
    sample = batch['data_samples'][1]
    assert sample.img_id == 1 and sample.img_shape == sample.batch_input_shape == (48, 64)
    gt = sample.gt_instances
    torch.testing.assert_close(gt.bboxes[0], torch.tensor(DEMO_BOXES[0]) * torch.tensor([64., 48., 64., 48.]))
    assert gt.labels.tolist() == [0, 1] and gt.masks.masks.shape == (2, 48, 64)
    x0, y0, x1, y1 = gt.bboxes[0].int().tolist()
    assert gt.masks.masks[0].sum() == (x1 - x0) * (y1 - y0)
    assert torch.equal(batch['inputs'][0], demo_det_inputs(2, (48, 64))['inputs'][0])  # seeded
    bare = demo_det_inputs(1, (32, 32), with_gt=False)['data_samples'][0]
    assert 'gt_instances' not in bare and bare.scale_factor == (1., 1.)
    assert 'masks' not in demo_det_inputs(1, (32, 32), num_boxes=1, with_masks=False)['data_samples'][0].gt_instances
    with pytest.raises(ValueError, match='num_boxes'):
        demo_det_inputs(num_boxes=3)


def test_seg_batch() -> None:
    pytest.importorskip('mmseg')
    batch = demo_seg_inputs(2, (32, 40), num_classes=5)
    sample = batch['data_samples'][0]
    assert sample.gt_sem_seg.data.shape == (1, 32, 40) and int(sample.gt_sem_seg.data.max()) < 5
    assert sample.padding_size == [0, 0, 0, 0] and len(batch['inputs']) == 2
    assert 'gt_sem_seg' not in demo_mm_inputs('mmseg', 1, (32, 32), with_gt=False)['data_samples'][0]
    with pytest.raises(ValueError, match="'mmdet' and 'mmseg', not 'mmpretrain'"):
        demo_mm_inputs('mmpretrain')


def test_imports_with_torch_alone() -> None:
    """As on a kernel-only machine (ops imports mmvision_mamba.testing.scan_inputs)."""
    code = ("import sys\nfor name in ('mmengine', 'mmcv', 'mmdet', 'mmseg', 'cv2'):\n    sys.modules[name] = None\n"
            "import mmvision_mamba.testing")
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
