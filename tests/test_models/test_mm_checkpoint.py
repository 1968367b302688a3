"""convert_to_mm_checkpoint: the three official layouts as mmengine checkpoints, and their dataset_meta."""
import pytest
import torch
from mmengine.runner import load_checkpoint
from torch import nn

from mmvision_mamba.models import MambaVision
from mmvision_mamba.models.utils import convert_to_mm_checkpoint
from tests.test_models.test_pretrained import SMALL, backbone_only, source, write_cls, write_hf, write_mm  # noqa: F401


@pytest.mark.parametrize('writer,layout', [(write_cls, 'backbone'), (write_hf, 'backbone'),
                                           (write_mm, 'detection/segmentation')])
def test_round_trip(source: MambaVision, tmp_path, writer, layout: str) -> None:
    src = writer(source, str(tmp_path / 'official'))
    dst = str(tmp_path / 'converted.pth')
    torch.save(convert_to_mm_checkpoint(src, 'coco' if writer is write_cls else None), dst)
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)  # offline and safe
    assert ckpt['meta']['layout'] == layout and ckpt['meta']['arch'] is None  # SMALL is no official variant
    state = ckpt['state_dict']
    expected = {f'backbone.{k}': v for k, v in (source.state_dict() if writer is write_mm
                                                 else backbone_only(source)).items()}
    assert set(expected) <= set(state)
    assert all(torch.equal(state[k], v) for k, v in expected.items())
    if writer is write_mm:  # det/seg checkpoints keep every key, and their own dataset_meta
        assert 'neck.lateral_convs.0.conv.weight' in state
        assert ckpt['meta']['dataset_meta']['classes'] == ('person', 'car')
    else:
        assert all(k.startswith('backbone.') for k in state) and not any('head.' in k for k in state)
        assert ('dataset_meta' in ckpt['meta']) == (writer is write_cls)
    # load_from= goes through mmengine's load_checkpoint
    holder = nn.Module()
    holder.backbone = MambaVision(SMALL)
    load_checkpoint(holder, dst, map_location='cpu', strict=False)
    for k, v in backbone_only(source).items():
        assert torch.equal(holder.backbone.state_dict()[k], v), k


def test_not_mambavision_and_wrong_dataset(tmp_path, source: MambaVision) -> None:
    other = str(tmp_path / 'resnet.pth')
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}}, other)
    with pytest.raises(ValueError, match='holds no MambaVision backbone weights'):
        convert_to_mm_checkpoint(other)
    seg = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    seg['decode_head.conv_seg.weight'] = torch.zeros(150, 512, 1, 1)
    src = str(tmp_path / 'upernet.pth')
    torch.save({'state_dict': seg}, src)
    with pytest.raises(ValueError, match='head for 150 classes, but --dataset coco has 80'):
        convert_to_mm_checkpoint(src, 'coco')
    assert convert_to_mm_checkpoint(src)['meta']['dataset_meta']['classes'][0] == 'wall'  # ADE20K's, from 150
