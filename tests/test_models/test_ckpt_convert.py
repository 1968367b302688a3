"""The pure key mapping from official checkpoints."""
import torch

from mmvision_mamba.models.utils import convert_mambavision, extract_state_dict

W = torch.zeros(1)


def test_classification_keys_drop_head() -> None:
    sd = {'patch_embed.conv_down.0.weight': W, 'levels.2.blocks.0.mixer.A_log': W, 'norm.weight': W,
          'head.weight': W, 'head.bias': W}
    assert list(convert_mambavision(sd)) == ['patch_embed.conv_down.0.weight', 'levels.2.blocks.0.mixer.A_log']


def test_hf_and_ddp_prefixes() -> None:
    hf = {'model.levels.0.blocks.0.conv1.weight': W, 'model.head.weight': W}
    assert list(convert_mambavision(hf)) == ['levels.0.blocks.0.conv1.weight']
    ddp = {'module.levels.0.blocks.0.conv1.weight': W}
    assert list(convert_mambavision(ddp)) == ['levels.0.blocks.0.conv1.weight']


def test_mm_checkpoint_keeps_backbone_only() -> None:
    sd = {'backbone.levels.1.downsample.reduction.0.weight': W, 'backbone.outnorm2.bias': W,
          'neck.lateral_convs.0.conv.weight': W, 'decode_head.conv_seg.weight': W,
          'roi_head.bbox_head.0.fc_cls.weight': W}
    assert list(convert_mambavision(sd)) == ['levels.1.downsample.reduction.0.weight', 'outnorm2.bias']


def test_convert_is_pure() -> None:
    sd = {'model.norm.weight': W, 'model.levels.0.x': W}
    before = dict(sd)
    convert_mambavision(sd)
    assert sd == before


def test_extract_state_dict() -> None:
    inner = {'a': W}
    assert extract_state_dict({'state_dict': inner, 'epoch': 3}) is inner
    assert extract_state_dict({'model': inner}) is inner
    assert extract_state_dict(inner) is inner
