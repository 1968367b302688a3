"""export_target, SegmentorLogits and DetectorTensors: what of a model is exported, and whole models (UperNet,
RetinaNet) through ONNX Runtime."""
import pytest
import torch
from mmengine.config import Config

from mmvision_mamba.apis import init_model
from mmvision_mamba.deployment import DetectorTensors, SegmentorLogits, export_target
from mmvision_mamba.models import MambaVision

TINY = "dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2))"

UPERNET = f"""
default_scope = 'mmseg'
custom_imports = dict(imports=['mmvision_mamba'], allow_failed_imports=False)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255),
    backbone=dict(type='MambaVision', arch={TINY}, window_size=(8, 8, 14, 7)),
    decode_head=dict(type='UPerHead', in_channels=[16, 32, 64, 128], in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3, 6),
                     channels=16, dropout_ratio=0.1, num_classes=5, norm_cfg=dict(type='SyncBN', requires_grad=True),
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
"""

RETINANET = f"""
default_scope = 'mmdet'
custom_imports = dict(imports=['mmvision_mamba'], allow_failed_imports=False)
model = dict(
    type='RetinaNet',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='MambaVision', arch={TINY}, out_indices=(1, 2, 3), window_size=(8, 8, 112, 56)),
    neck=dict(type='FPN', in_channels=[32, 64, 128], out_channels=16, start_level=0, add_extra_convs='on_input',
              num_outs=5),
    bbox_head=dict(type='RetinaHead', num_classes=3, in_channels=16, stacked_convs=1, feat_channels=16,
                   anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3,
                                         ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32, 64, 128]),
                   bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                                   target_stds=[1.0, 1.0, 1.0, 1.0]),
                   loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
                   loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                  max_per_img=10))
"""


def test_what_is_exported(tiny_configs) -> None:
    arch = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2))
    backbone = init_model(Config(dict(model=dict(type='MambaVision', arch=arch))))
    assert export_target(backbone) == (backbone, 'backbone feature maps')
    segmentor = init_model(tiny_configs['seg'])
    target, what = export_target(segmentor)
    assert isinstance(target, SegmentorLogits) and what == 'segmentation logits at image size'
    with torch.no_grad():
        assert target(torch.randn(1, 3, 64, 96)).shape == (1, 150, 64, 96)
    detector = init_model(tiny_configs['det'])
    target, what = export_target(detector)
    assert isinstance(target, DetectorTensors) and target.two_stage and 'RPN' in what
    with torch.no_grad():
        outputs = target(torch.randn(1, 3, 64, 64))
    assert len(outputs) == 5 + 2 * 5 and all(isinstance(t, torch.Tensor) for t in outputs)  # FPN levels, RPN
    target, _ = export_target(detector, backbone_only=True)
    assert isinstance(target, MambaVision)
    with pytest.raises(ValueError, match='--backbone-only'):
        export_target(torch.nn.Linear(2, 2))


@pytest.mark.e2e
@pytest.mark.parametrize('config,library', [(UPERNET, 'mmseg'), (RETINANET, 'mmdet')], ids=['upernet', 'retinanet'])
def test_whole_model_matches_in_onnxruntime(tmp_path, config, library):
    pytest.importorskip('onnxscript')
    pytest.importorskip('onnxruntime')
    pytest.importorskip(library)
    from mmvision_mamba.deployment import compare_with_onnxruntime, count_nodes, export_onnx, run_onnxruntime
    from mmvision_mamba.utils.tensor_error import max_errors

    cfg = tmp_path / f'{library}_tiny.py'
    cfg.write_text(config)
    target, _ = export_target(init_model(str(cfg)))
    path = str(tmp_path / 'model.onnx')
    img = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        export_onnx(target, img, path, dynamic=True)
    result = compare_with_onnxruntime(target, img, path, repeats=1)
    assert result['rel_err'] <= 1e-4 and count_nodes(path)['Scan'] == 2
    if library == 'mmseg':  # the same dynamic file at two other sizes, logits at image size
        for batch, h, w in [(2, 100, 70), (1, 161, 250)]:
            x = torch.randn(batch, 3, h, w)
            with torch.no_grad():
                ref = target(x)
            (out, ) = run_onnxruntime(path, x)
            assert out.shape == (batch, 5, h, w)
            assert max_errors([ref], [out])[1] <= 1e-4
    else:
        assert result['outputs'] == 10  # scores and box deltas of 5 levels
