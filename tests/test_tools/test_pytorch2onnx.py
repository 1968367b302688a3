"""tools/deployment/pytorch2onnx.py: argument errors, and whole models (UperNet, RetinaNet) through ONNX Runtime."""
import importlib.util
import os.path as osp

import pytest

pytest.importorskip('onnxscript')
pytest.importorskip('onnxruntime')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
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


def load_tool():
    spec = importlib.util.spec_from_file_location('pytorch2onnx',
                                                  osp.join(ROOT, 'tools', 'deployment', 'pytorch2onnx.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize('argv,message', [
    (['missing_config.py', '--shape', '224', '224'], "config file 'missing_config.py' does not exist"),
    (['{cfg}', 'missing.pth', '--shape', '224', '224'], "checkpoint 'missing.pth' does not exist"),
    (['{cfg}', '--shape', '48', '224', '--dynamic'], 'must be >= 64 for a dynamic export'),
    (['{cfg}', '--shape', '224', '224', '--out', 'model.pt'], 'must end with .onnx'),
    (['{cfg}', '--shape', '224'], 'expected 2 arguments'),
    (['{cfg}', '--shape', '224', '224', '--batch', '0'], 'must be positive'),
    (['{cfg}', '--shape', '224', '224', '--opset', '13'], 'choose an opset from 18 to'),
])
def test_bad_arguments(tmp_path, capsys, argv, message):
    cfg = write(tmp_path, 'backbone.py', f"model = dict(type='MambaVision', arch={TINY})\n")
    with pytest.raises(SystemExit) as exc:
        load_tool().main([a.format(cfg=cfg) for a in argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_config_of_unknown_library(tmp_path):
    cfg = write(tmp_path, 'other.py', "model = dict(type='ResNet', depth=18)\n")
    with pytest.raises(SystemExit, match="cannot tell the model's library"):
        load_tool().main([cfg, '--shape', '64', '64'])


@pytest.mark.e2e
@pytest.mark.parametrize('config,library', [(UPERNET, 'mmseg'), (RETINANET, 'mmdet')], ids=['upernet', 'retinanet'])
def test_whole_model_matches_in_onnxruntime(tmp_path, config, library):
    pytest.importorskip(library)
    cfg = write(tmp_path, f'{library}_tiny.py', config)
    result = load_tool().main([cfg, '--shape', '96', '128', '--dynamic', '--repeats', '1',
                               '--out', str(tmp_path / 'model.onnx')])
    assert result['rel_err'] <= 1e-4 and result['nodes']['Scan'] == 2
    if library == 'mmseg':  # the same dynamic file at two other sizes, logits at image size
        import torch

        from mmvision_mamba.deployment import run_onnxruntime
        from mmvision_mamba.utils.tensor_error import max_errors
        target = result['model']
        for batch, h, w in [(2, 100, 70), (1, 161, 250)]:
            x = torch.randn(batch, 3, h, w)
            with torch.no_grad():
                ref = target(x)
            (out, ) = run_onnxruntime(result['out'], x)
            assert out.shape == (batch, 5, h, w)
            assert max_errors([ref], [out])[1] <= 1e-4
    else:
        assert result['outputs'] == 10  # scores and box deltas of 5 levels
