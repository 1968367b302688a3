"""check_backbone_channels: a neck / head whose in_channels do not fit MambaVision is named when the
config is read, by tools/train.py and tools/test.py too."""
import os.path as osp
import runpy
import sys

import pytest
from mmengine.config import Config

from mmvision_mamba.apis.config_checks import check_backbone_channels

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET = osp.join(ROOT, 'configs/det/mask_rcnn_mambavision_t.py')
SEG = osp.join(ROOT, 'configs/seg/upernet_mambavision_t_512x512_160k_ade20k.py')


def config(tmp_path, base: str, body: str) -> str:
    path = tmp_path / 'cfg.py'
    path.write_text(f'_base_ = {base!r}\n{body}\n')
    return str(path)


@pytest.mark.parametrize('path', [DET, osp.join(ROOT, 'configs/seg/upernet_mambavision_s_512x512_160k_ade20k.py')])
def test_shipped_configs_fit(path: str) -> None:
    """No false alarm (tests/test_configs.py runs every config, which would fail on a mismatch)."""
    assert check_backbone_channels(Config.fromfile(path)) is None


def test_swin_neck_channels(tmp_path) -> None:
    cfg = Config.fromfile(config(tmp_path, DET, 'model = dict(neck=dict(in_channels=[96, 192, 384, 768]))'))
    problem = check_backbone_channels(cfg)
    assert problem == ("model.neck.in_channels=[96, 192, 384, 768] but the MambaVision backbone "
                       "(arch='tiny', out_indices=(0, 1, 2, 3)) returns maps with out_channels "
                       "(80, 160, 320, 640): set model.neck.in_channels=[80, 160, 320, 640].")


def test_out_indices_and_arch_change_the_channels(tmp_path) -> None:
    cfg = Config.fromfile(config(tmp_path, DET, "model = dict(backbone=dict(arch='base', out_indices=(1, 2, 3)))"))
    assert 'set model.neck.in_channels=[256, 512, 1024]' in check_backbone_channels(cfg)
    cfg.model.neck.in_channels = [256, 512, 1024]
    assert check_backbone_channels(cfg) is None
    cfg.model.backbone.arch = 'huge'
    assert "model.backbone: Unknown MambaVision arch 'huge'" in check_backbone_channels(cfg)


def test_segmentation_heads(tmp_path) -> None:
    cfg = Config.fromfile(SEG)
    cfg.model.decode_head.in_channels = [256, 512, 1024, 2048]  # a ResNet-50's
    assert check_backbone_channels(cfg).startswith(
        'model.decode_head.in_channels=[256, 512, 1024, 2048] but the backbone maps it takes '
        '(in_index=[0, 1, 2, 3]) have [80, 160, 320, 640] channels: set '
        'model.decode_head.in_channels=[80, 160, 320, 640].')
    cfg = Config.fromfile(SEG)
    cfg.model.auxiliary_head.in_channels = 1024
    assert 'set model.auxiliary_head.in_channels=320' in check_backbone_channels(cfg)
    cfg = Config.fromfile(SEG)
    cfg.model.backbone.out_indices = (2, 3)
    cfg.model.decode_head.update(in_channels=[320, 640], in_index=[0, 1])
    assert 'model.auxiliary_head.in_index=2 picks map(s) [2] but the backbone returns only 2 maps' \
        in check_backbone_channels(cfg)
    cfg.model.auxiliary_head.in_index = 0
    assert check_backbone_channels(cfg) is None


@pytest.mark.parametrize('name, head', [('mask2former_mambavision_b_640x640_160k_ade20k', 'decode_head'),
                                        ('mask2former_mambavision_b_lsj_50e_coco', 'panoptic_head')])
def test_heads_that_take_every_map(name: str, head: str) -> None:
    """Mask2Former's heads (mmseg's decode head, mmdet's panoptic head) take all levels, without in_index."""
    kind = 'seg' if name.endswith('ade20k') else 'det'
    cfg = Config.fromfile(osp.join(ROOT, 'configs', kind, name + '.py'))
    assert check_backbone_channels(cfg) is None
    cfg.model[head].in_channels = [192, 384, 768, 1536]  # a Swin-L's
    assert check_backbone_channels(cfg).startswith(
        f'model.{head}.in_channels=[192, 384, 768, 1536] but the backbone maps it takes (in_index=[0, 1, 2, 3]) '
        f'have [128, 256, 512, 1024] channels: set model.{head}.in_channels=[128, 256, 512, 1024].')


def test_other_backbones_are_left_alone() -> None:
    cfg = Config(dict(model=dict(backbone=dict(type='ResNet', depth=50), neck=dict(in_channels=[1, 2]))))
    assert check_backbone_channels(cfg) is None


@pytest.mark.parametrize('tool, extra', [('train.py', []), ('test.py', ['ckpt.pth'])])
def test_tools_stop_before_building(tool, extra, tmp_path, monkeypatch) -> None:
    path = config(tmp_path, DET, 'model = dict(neck=dict(in_channels=[256, 512, 1024, 2048]))')
    monkeypatch.setattr(sys, 'argv', [tool, path, *extra, '--work-dir', str(tmp_path / 'work')])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(osp.join(ROOT, 'tools', tool), run_name='__main__')
    assert str(exc.value).startswith('error: model.neck.in_channels=[256, 512, 1024, 2048]')
    assert 'set model.neck.in_channels=[80, 160, 320, 640]' in str(exc.value)
    assert not osp.exists(tmp_path / 'work')
