"""`MM_mamba_vision`, the official det / seg backbone type: the backbone dicts of the official repository's 7 configs
(this project's own copy of them, merged into their bases as the official configs are, without `_delete_`) build
through the alias the network of the matching shipped config: same state-dict keys and shapes, same module
hyper-parameters, same outputs with the same weights. And the alias's arguments keep their official meanings."""
from pathlib import Path
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import nn

from mmvision_mamba.models import MambaVision, MambaVisionOfficial
from mmvision_mamba.apis.config_checks import check_backbone_channels

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
DET_BASE = 'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py'
SEG_BASE = 'mmseg::_base_/models/upernet_swin.py'
T = dict(dim=80, in_dim=32, depths=(1, 3, 8, 4), num_heads=(2, 4, 8, 16), layer_scale=None)
S = dict(dim=96, in_dim=64, depths=(3, 3, 7, 5), num_heads=(2, 4, 8, 16), layer_scale=None)
B = dict(dim=128, in_dim=64, depths=(3, 3, 10, 5), num_heads=(2, 4, 8, 16), layer_scale=1e-5)
L3 = dict(dim=256, in_dim=64, depths=(3, 3, 20, 10), num_heads=(4, 8, 16, 32), layer_scale=1e-5)


def official(arch: dict, window_size: tuple, drop_path_rate: float, checkpoint: str) -> dict:
    return dict(type='MM_mamba_vision', out_indices=(0, 1, 2, 3), pretrained=f'/ckpts/{checkpoint}',
                window_size=window_size, mlp_ratio=4, drop_path_rate=drop_path_rate, norm_layer='ln2d', **arch)


# official config -> (its model base, its backbone dict, the shipped config of the same recipe)
OFFICIAL = {
    'cascade_mask_rcnn_mamba_vision_tiny_3x_coco': (
        DET_BASE, official(T, (8, 8, 112, 56), 0.2, 'mambavision_tiny_1k.pth.tar'),
        'det/cascade_mask_rcnn_mambavision_t_3x.py'),
    'cascade_mask_rcnn_mamba_vision_small_3x_coco': (
        DET_BASE, official(S, (8, 8, 112, 56), 0.3, 'mambavision_small_1k.pth.tar'),
        'det/cascade_mask_rcnn_mambavision_s_3x.py'),
    'cascade_mask_rcnn_mamba_vision_base_3x_coco': (
        DET_BASE, official(B, (8, 8, 112, 56), 0.5, 'mambavision_base_1k.pth.tar'),
        'det/cascade_mask_rcnn_mambavision_b_3x.py'),
    'mamba_vision_160k_ade20k-512x512_tiny': (
        SEG_BASE, official(T, (8, 8, 64, 32), 0.3, 'mambavision_tiny_1k.pth.tar'),
        'seg/upernet_mambavision_t_512x512_160k_ade20k.py'),
    'mamba_vision_160k_ade20k-512x512_small': (
        SEG_BASE, official(S, (8, 8, 160, 56), 0.7, 'mambavision_small_1k.pth.tar'),
        'seg/upernet_mambavision_s_512x512_160k_ade20k.py'),
    'mamba_vision_160k_ade20k-512x512_base': (
        SEG_BASE, official(B, (8, 8, 64, 32), 0.4, 'mambavision_base_1k.pth.tar'),
        'seg/upernet_mambavision_b_512x512_160k_ade20k.py'),
    'mamba_vision_160k_ade20k-640x640_l3_21k': (
        SEG_BASE, official(L3, (8, 8, 64, 32), 0.8, 'mambavision_L3_21k_700m_512.pth.tar'),
        'seg/upernet_mambavision_l3_640x640_160k_ade20k.py'),
}
SMALL = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 2, 2, 4), window_size=(8, 8, 4, 2), mlp_ratio=4)


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One thread: these small forwards gain nothing from more, and lose several-fold when other processes share
    the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _scope(base: str) -> str:
    return base.split('::')[0]


def _models(scope: str):
    if scope == 'mmdet':
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
    else:
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return MODELS


def official_config(tmp_path, base: str, backbone: dict, **model) -> Config:
    """An official-style config: the base's model with `backbone=dict(type='MM_mamba_vision', ...)` merged in."""
    path = tmp_path / 'official.py'
    path.write_text(f'_base_ = [{base!r}]\ncustom_imports = dict(imports=[\'mmvision_mamba\'])\n'
                    f'model = dict(backbone={backbone!r}, **{model!r})\n')
    return Config.fromfile(str(path))


def build(scope: str, cfg) -> nn.Module:
    models = _models(scope)
    with DefaultScope.overwrite_default_scope(scope):
        return models.build(cfg)


def hyper_parameters(model: nn.Module) -> list:
    """Per module: its name, its extra_repr and its plain (scalar / tuple) attributes."""
    plain = (bool, int, float, str, tuple, type(None))
    return [(name, m.extra_repr(), {k: v for k, v in vars(m).items()
                                    if not k.startswith('_') and k not in ('training', 'init_cfg')
                                    and isinstance(v, plain)})
            for name, m in model.named_modules()]


@pytest.mark.parametrize('name', OFFICIAL)
def test_official_backbone_is_the_shipped_network(name: str, tmp_path) -> None:
    base, backbone, shipped_path = OFFICIAL[name]
    cfg = official_config(tmp_path, base, backbone)
    assert cfg.model.backbone.type == 'MM_mamba_vision' and len(cfg.model.backbone) > len(backbone)  # + base keys
    scope = _scope(base)
    # the alias gets the shipped network's weights below: its own Linear init (most of L3's 15 s build) is skipped
    with pytest.warns(UserWarning, match='MM_mamba_vision ignores') as record, \
            mock.patch.object(nn.Linear, 'reset_parameters', lambda self: None):
        alias = build(scope, cfg.model.backbone)
    ignored = [str(w.message) for w in record if 'MM_mamba_vision ignores' in str(w.message)]
    assert len(ignored) == 1 and ('depth, frozen_stages' in ignored[0] or 'embed_dims' in ignored[0])
    if backbone['drop_path_rate'] != 0.2:
        assert f"drop_path_rate={backbone['drop_path_rate']} (the official wrapper does not pass it on" in ignored[0]
    shipped_cfg = Config.fromfile(str(CONFIGS / shipped_path)).model.backbone
    shipped_cfg.init_cfg = None
    shipped = build(scope, shipped_cfg)
    assert type(alias) is MambaVisionOfficial and type(shipped) is MambaVision
    assert alias.init_cfg == dict(type='Pretrained', checkpoint=backbone['pretrained'])

    own, theirs = alias.state_dict(), shipped.state_dict()
    assert [(k, v.shape) for k, v in own.items()] == [(k, v.shape) for k, v in theirs.items()]
    assert hyper_parameters(alias)[1:] == hyper_parameters(shipped)[1:]  # [0]: the root (init_cfg, type)
    for key in own:
        if 'gamma' in key:  # the layer scale's initial value
            assert torch.equal(own[key], theirs[key])

    # same weights -> same outputs; windows shrunk in both (the official windows pad a 64x64 image to 112x112)
    alias.load_state_dict(theirs, assign=True)  # shared tensors: L3 is 3 GB
    for model in (alias, shipped):
        model.eval()
        model.levels[2].window_size, model.levels[3].window_size = 4, 2
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(alias(x), shipped(x)):
            assert torch.equal(a, b)
    del alias, shipped, own, theirs


@pytest.mark.parametrize('base, neck', [(DET_BASE, dict(neck=dict(in_channels=[80, 160, 320, 640]))),
                                        (SEG_BASE, dict(decode_head=dict(in_channels=[80, 160, 320, 640],
                                                                         num_classes=150),
                                                        auxiliary_head=dict(in_channels=320, num_classes=150)))])
def test_official_model_config_builds_and_is_checked(base: str, neck: dict, tmp_path) -> None:
    """The official T model configs build whole; with the base's channels left in, they are named."""
    backbone = OFFICIAL['cascade_mask_rcnn_mamba_vision_tiny_3x_coco'][1]
    cfg = official_config(tmp_path, base, backbone, **neck)
    assert check_backbone_channels(cfg) is None
    with pytest.warns(UserWarning, match='MM_mamba_vision ignores'):
        model = build(_scope(base), cfg.model)
    assert model.backbone.out_channels == (80, 160, 320, 640)
    cfg = official_config(tmp_path, base, dict(backbone, out_indices=(1, 2, 3)), **neck)
    problem = check_backbone_channels(cfg)
    assert problem.startswith('model.neck.in_channels=[80, 160, 320, 640] takes 4 maps but the MambaVision backbone '
                              '(dim=80, out_indices=(1, 2, 3)) returns maps with out_channels (160, 320, 640)'
                              if 'neck' in neck else
                              'model.decode_head.in_index=[0, 1, 2, 3] picks map(s) [3] but the backbone returns '
                              'only 3 maps')
    with pytest.raises(ValueError, match='does not fit the MambaVision backbone'), pytest.warns(UserWarning):
        build(_scope(base), cfg.model)


def test_official_arguments() -> None:
    with pytest.warns(UserWarning) as record:
        model = MambaVisionOfficial(**SMALL, out_indices=(1, 3), norm_layer='BN', layer_scale=0.5,
                                    drop_path_rate=0.4, layer_scale_conv=1e-6, depth=50, frozen_stages=1,
                                    init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))
    [message] = [str(w.message) for w in record if 'MM_mamba_vision' in str(w.message)]
    assert message.startswith('MM_mamba_vision ignores drop_path_rate=0.4 (the official wrapper '
                                                   'does not pass it on: its runs trained with 0.2')
    assert "layer_scale_conv=1e-06" in message and 'depth, frozen_stages, init_cfg (as the official wrapper' in message
    assert model.init_cfg is None and model.frozen_stages == -1 and model.drop_path_rate == 0.2
    assert model.out_indices == (1, 3) and model.out_channels == (32, 128)
    assert isinstance(model.outnorm1, nn.BatchNorm2d) and not hasattr(model, 'outnorm0')
    assert torch.all(model.levels[3].blocks[1].gamma_1 == 0.5)
    assert model.levels[3].blocks[-1].drop_path.drop_prob == pytest.approx(0.2)
    none = MambaVisionOfficial(**SMALL)  # layer_scale=None: none, as in the official network
    assert none.levels[2].blocks[0].gamma_1 is None and isinstance(none.outnorm0, nn.LayerNorm)
    with pytest.raises(ValueError, match=r"norm_layer must be one of \['ln2d', 'bn'\].*got 'ln'.*use 'ln2d'"):
        MambaVisionOfficial(**SMALL, norm_layer='ln')
    with pytest.raises(TypeError, match='pretrained must be a str'):
        MambaVisionOfficial(**SMALL, pretrained=1)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'num_heads'"):
        MambaVisionOfficial(**{k: v for k, v in SMALL.items() if k != 'num_heads'})


def test_pretrained_is_loaded_by_init_weights(tmp_path) -> None:
    """Not when built (as the official wrapper does), so that a model can be built before the file is there."""
    source = MambaVisionOfficial(**SMALL)
    path = tmp_path / 'mambavision_small.pth'
    torch.save(dict(state_dict=source.state_dict()), path)
    model = MambaVisionOfficial(**SMALL, pretrained=str(path))
    assert not torch.equal(model.levels[2].blocks[0].mlp.fc1.weight, source.levels[2].blocks[0].mlp.fc1.weight)
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    missing = MambaVisionOfficial(**SMALL, pretrained=str(tmp_path / 'absent.pth.tar'))
    with pytest.raises(Exception, match='absent.pth.tar'):
        missing.init_weights()
