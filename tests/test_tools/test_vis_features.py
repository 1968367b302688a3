"""Smoke test of tools/analysis_tools/vis_features.py (the picture: tests/test_analysis/test_feature_maps.py; the
checkpoint layouts: tests/test_apis/test_inference.py)."""
import os.path as osp
import re
import runpy

import cv2
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_vis_features(tiny_configs, image_file: str, tmp_path, capsys) -> None:
    vis = runpy.run_path(osp.join(ROOT, 'tools/analysis_tools/vis_features.py'))
    out = str(tmp_path / 'feats.png')
    vis['main']([image_file, tiny_configs['det'], '--out-file', out, '--max-size', '96'])
    picture = cv2.imread(out)
    assert picture is not None and picture.shape[1] == 2 * 96 and picture.std() > 10

    backbone = vis['build_backbone'](vis['load_config'](tiny_configs['seg']), None)
    ckpt = str(tmp_path / 'seg.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in backbone.state_dict().items()}}, ckpt)
    loaded = vis['build_backbone'](vis['load_config'](tiny_configs['seg']), ckpt)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in backbone.state_dict().items())

    for extra, message in [(['--max-size', '8'], 'at least 32'), (['--alpha', '2'], r'\[0, 1\]')]:
        with pytest.raises(SystemExit):
            vis['parse_args']([image_file, tiny_configs['det'], '--out-file', 'x.png'] + extra)
        assert re.search(message, capsys.readouterr().err)
    with pytest.raises(SystemExit, match='image not found'):
        vis['main'](['nope.png', tiny_configs['det'], '--out-file', str(tmp_path / 'x.png')])
    config = tmp_path / 'resnet.py'
    config.write_text("model = dict(backbone=dict(type='ResNet', depth=18))\n")
    with pytest.raises(SystemExit, match="model.backbone is 'ResNet', not MambaVision"):
        vis['main']([image_file, str(config), '--out-file', str(tmp_path / 'x.png')])
