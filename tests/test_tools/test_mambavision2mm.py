"""Smoke test of tools/model_converters/mambavision2mm.py (the conversion: tests/test_models/test_mm_checkpoint.py)."""
import os.path as osp
import runpy

import pytest
import torch

from mmvision_mamba.models import MambaVision
from tests.test_models.test_pretrained import SMALL, write_cls

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_mambavision2mm(tmp_path, capsys) -> None:
    converter = runpy.run_path(osp.join(ROOT, 'tools/model_converters/mambavision2mm.py'))
    src = write_cls(MambaVision(SMALL), str(tmp_path / 'official.pth.tar'))
    dst = str(tmp_path / 'out' / 'converted.pth')
    converter['main']([src, dst, '--dataset', 'coco'])
    assert 'dataset_meta: 80 classes (person' in capsys.readouterr().out
    assert torch.load(dst, map_location='cpu', weights_only=True)['meta']['layout'] == 'backbone'
    with pytest.raises(SystemExit, match='must differ'):
        converter['main']([src, src])
    other = str(tmp_path / 'resnet.pth')
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}}, other)
    with pytest.raises(SystemExit, match='holds no MambaVision backbone weights'):
        converter['main']([other, str(tmp_path / 'x.pth')])
