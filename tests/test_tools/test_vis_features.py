"""tools/analysis_tools/vis_features.py: the four levels' maps in one picture, with and without weights."""
import os.path as osp
import runpy

import cv2
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
vis = runpy.run_path(osp.join(ROOT, 'tools/analysis_tools/vis_features.py'))


def test_feature_picture(tiny_configs, image_file: str, tmp_path) -> None:
    out = str(tmp_path / 'feats.png')
    vis['main']([image_file, tiny_configs['det'], '--out-file', out, '--max-size', '96'])
    picture = cv2.imread(out)
    assert picture is not None and picture.shape[1] == 2 * 96 and picture.std() > 10


def test_feature_picture_with_checkpoint(tiny_configs, image_file: str, tmp_path) -> None:
    from mmengine.config import Config
    from mmengine.registry import MODELS
    backbone = MODELS.build(Config.fromfile(tiny_configs['seg']).model.backbone)
    ckpt = str(tmp_path / 'seg.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in backbone.state_dict().items()}}, ckpt)
    out = str(tmp_path / 'feats.jpg')
    vis['main']([image_file, tiny_configs['seg'], ckpt, '--out-file', out, '--max-size', '64'])
    assert osp.getsize(out) > 1000


@pytest.mark.parametrize('extra,message', [(['--max-size', '8'], 'at least 32'), (['--alpha', '2'], r'\[0, 1\]')])
def test_bad_arguments(tiny_configs, image_file: str, extra, message: str, capsys) -> None:
    with pytest.raises(SystemExit):
        vis['parse_args']([image_file, tiny_configs['det'], '--out-file', 'x.png'] + extra)
    assert __import__('re').search(message, capsys.readouterr().err)


def test_missing_image(tiny_configs, tmp_path) -> None:
    with pytest.raises(SystemExit, match='image not found'):
        vis['main'](['nope.png', tiny_configs['det'], '--out-file', str(tmp_path / 'x.png')])


def test_other_backbone_is_refused(image_file: str, tmp_path) -> None:
    config = tmp_path / 'resnet.py'
    config.write_text("model = dict(backbone=dict(type='ResNet', depth=18))\n")
    with pytest.raises(SystemExit, match="model.backbone is 'ResNet', not MambaVision"):
        vis['main']([image_file, str(config), '--out-file', str(tmp_path / 'x.png')])
