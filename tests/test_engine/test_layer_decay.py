"""MambaVisionLayerDecayOptimizerConstructor: per-parameter learning rates and weight decays."""
from pathlib import Path

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from mmvision_mamba import MambaVision
from mmvision_mamba.engine import MambaVisionLayerDecayOptimizerConstructor

LR, WD = 1e-3, 0.05
RATE = 0.5  # large steps, so that any off-by-one shows
# depths (1, 1, 2, 2): six blocks, levels 2 and 3 hold a Mamba then an attention block
SMALL_ARCH = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 2, 2, 4))

# full-name prefix -> expected layer id, written out by hand for depths (1, 1, 2, 2)
LAYER_WISE = {
    'backbone.patch_embed.': 0,
    'backbone.levels.0.blocks.0.': 1,
    'backbone.levels.0.downsample.': 2,  # feeds level 1: the layer of its first block
    'backbone.levels.1.blocks.0.': 2,
    'backbone.levels.1.downsample.': 3,
    'backbone.levels.2.blocks.0.': 3,
    'backbone.levels.2.blocks.1.': 4,
    'backbone.levels.2.downsample.': 5,
    'backbone.levels.3.blocks.0.': 5,
    'backbone.levels.3.blocks.1.': 6,
    'backbone.outnorm': 7,
    'head.': 7,
}
STAGE_WISE = {
    'backbone.patch_embed.': 0,
    'backbone.levels.0.blocks.': 1,
    'backbone.levels.0.downsample.': 2,
    'backbone.levels.1.blocks.': 2,
    'backbone.levels.1.downsample.': 3,
    'backbone.levels.2.blocks.': 3,
    'backbone.levels.2.downsample.': 4,
    'backbone.levels.3.blocks.': 4,
    'backbone.outnorm': 5,
    'head.': 5,
}


class Toy(nn.Module):
    """A MambaVision backbone under `.backbone` plus a small head with a norm."""

    def __init__(self, **backbone_kwargs):
        super().__init__()
        self.backbone = MambaVision(arch=dict(SMALL_ARCH, layer_scale=1e-5), **backbone_kwargs)
        self.head = nn.Sequential(nn.Conv2d(128, 32, 1), nn.BatchNorm2d(32), nn.Conv2d(32, 4, 1))


def _optim(model, **paramwise):
    return build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
        constructor='MambaVisionLayerDecayOptimizerConstructor', paramwise_cfg=paramwise))


def _settings(optim_wrapper, model):
    """{parameter name: (lr, weight_decay)} from the optimizer's param groups."""
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for group in optim_wrapper.optimizer.param_groups:
        for p in group['params']:
            name = names[id(p)]
            assert name not in out, f'{name} is in two groups'
            out[name] = (group['lr'], group['weight_decay'])
    return out


def _expected_layer(name, table):
    matches = [layer for prefix, layer in table.items() if name.startswith(prefix)]
    assert len(matches) == 1, name
    return matches[0]


def _no_decay(name, param):
    return param.ndim == 1 or name.endswith('A_log')


def test_registered_in_root_registry():
    assert OPTIM_WRAPPER_CONSTRUCTORS.get('MambaVisionLayerDecayOptimizerConstructor') is \
        MambaVisionLayerDecayOptimizerConstructor


@pytest.mark.parametrize('codebase', ['mmdet', 'mmseg'])
def test_found_from_codebase_registries(codebase):
    registry = pytest.importorskip(f'{codebase}.registry')
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(codebase):
        assert registry.OPTIM_WRAPPER_CONSTRUCTORS.get(
            'MambaVisionLayerDecayOptimizerConstructor') is MambaVisionLayerDecayOptimizerConstructor


@pytest.mark.parametrize('decay_type, table, num_layers', [
    ('layer_wise', LAYER_WISE, 6), ('stage_wise', STAGE_WISE, 4)])
def test_lr_and_weight_decay_per_parameter(decay_type, table, num_layers):
    model = Toy()
    settings = _settings(_optim(model, decay_rate=RATE, decay_type=decay_type), model)
    params = dict(model.named_parameters())
    assert set(settings) == set(params)
    assert any(n.endswith('mixer.A_log') for n in params) and any(n.endswith('mixer.D') for n in params)
    assert any(n.endswith('gamma_1') for n in params)
    for name, (lr, wd) in settings.items():
        layer = _expected_layer(name, table)
        assert lr == pytest.approx(LR * RATE ** (num_layers + 1 - layer)), name
        assert wd == (0. if _no_decay(name, params[name]) else WD), name
    # spot checks of the rules, spelled out
    assert settings['head.0.weight'] == (LR, WD)
    assert settings['head.1.weight'] == (LR, 0.)
    assert settings['backbone.outnorm3.weight'] == (LR, 0.)
    if decay_type == 'layer_wise':
        assert settings['backbone.patch_embed.conv_down.0.weight'] == pytest.approx((LR * RATE ** 7, WD))
        assert settings['backbone.levels.3.blocks.1.mlp.fc1.weight'] == pytest.approx((LR * RATE, WD))
        assert settings['backbone.levels.2.blocks.0.mixer.A_log'] == pytest.approx((LR * RATE ** 4, 0.))
        assert settings['backbone.levels.2.blocks.0.mixer.D'] == pytest.approx((LR * RATE ** 4, 0.))
        # the downsample of level 1 feeds level 2: it shares the layer of levels.2.blocks.0
        assert settings['backbone.levels.1.downsample.reduction.0.weight'] == \
            pytest.approx((LR * RATE ** 4, WD))


def test_num_layers():
    model = Toy()
    settings = _settings(_optim(model, decay_rate=RATE, num_layers=8), model)
    assert settings['backbone.patch_embed.conv_down.0.weight'][0] == pytest.approx(LR * RATE ** 9)
    assert settings['backbone.levels.3.blocks.1.mlp.fc1.weight'][0] == pytest.approx(LR * RATE ** 3)
    assert settings['head.0.weight'][0] == LR
    with pytest.raises(ValueError, match='num_layers=5'):
        _optim(model, decay_rate=RATE, num_layers=5)


def test_custom_keys_still_apply():
    model = Toy()
    settings = _settings(_optim(model, decay_rate=RATE, custom_keys={
        'head': dict(lr_mult=10.), 'levels.3': dict(decay_mult=0.5),
        'levels.3.blocks.1': dict(lr_mult=2.)}), model)
    assert settings['head.0.weight'] == pytest.approx((10 * LR, WD))
    assert settings['head.1.bias'] == pytest.approx((10 * LR, 0.))
    # longest matching key wins; decay_mult scales the weight decay the rules give
    assert settings['backbone.levels.3.blocks.0.mlp.fc1.weight'] == pytest.approx((LR * RATE ** 2, WD / 2))
    assert settings['backbone.levels.3.blocks.0.norm1.weight'] == pytest.approx((LR * RATE ** 2, 0.))
    assert settings['backbone.levels.3.blocks.1.mlp.fc1.weight'] == pytest.approx((2 * LR * RATE, WD))
    assert settings['backbone.levels.0.blocks.0.conv1.weight'] == pytest.approx((LR * RATE ** 6, WD))


def test_frozen_parameters_are_left_out():
    model = Toy(frozen_stages=1)
    settings = _settings(_optim(model, decay_rate=RATE), model)
    assert not any(n.startswith(('backbone.patch_embed.', 'backbone.levels.0.', 'backbone.outnorm0.'))
                   for n in settings)
    assert settings['backbone.levels.1.blocks.0.conv1.weight'][0] == pytest.approx(LR * RATE ** 5)


def test_backbone_alone():
    model = MambaVision(arch=SMALL_ARCH)
    settings = _settings(_optim(model, decay_rate=RATE), model)
    assert settings['patch_embed.conv_down.0.weight'][0] == pytest.approx(LR * RATE ** 7)
    assert settings['outnorm0.weight'] == (LR, 0.)


def test_optimizer_steps():
    """One AdamW step moves each parameter by its own layer's lr: p <- p (1 - lr wd) - lr g / (|g| + eps)."""
    model = Toy()
    optim_wrapper = _optim(model, decay_rate=RATE)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = model.head(model.backbone(torch.randn(2, 3, 64, 64))[-1])
    optim_wrapper.backward(out.square().mean())
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    optim_wrapper.step()
    eps = optim_wrapper.optimizer.defaults['eps']
    moved = 0
    for name, p in model.named_parameters():
        if name not in grads:  # outnorm0-2: their maps are not used by the head
            assert name.startswith('backbone.outnorm') and torch.equal(p, before[name]), name
            continue
        lr = LR * RATE ** (6 + 1 - _expected_layer(name, LAYER_WISE))
        wd = 0. if _no_decay(name, p) else WD
        g = grads[name].double()
        expected = before[name].double() * (1 - lr * wd) - lr * g / (g.abs() + eps)
        # fp32 rounding of p (|p| <= 1) is far below the step of a neighbouring layer (lr / 2)
        torch.testing.assert_close(p.detach().double(), expected, rtol=0, atol=lr * 1e-2 + 2e-7, msg=name)
        moved += int((p != before[name]).any())
    assert moved > 0.9 * sum(1 for _ in model.parameters())
    # the stem moved by ~LR * RATE**7 per element, the head by ~LR
    stem = (model.backbone.patch_embed.conv_down[0].weight - before['backbone.patch_embed.conv_down.0.weight'])
    head = model.head[0].weight - before['head.0.weight']
    assert stem.abs().max() < 2 * LR * RATE ** 7 < head.abs().max()


@pytest.mark.parametrize('paramwise, match', [
    (dict(), 'decay_rate'),
    (dict(decay_rate=1.5), 'decay_rate'),
    (dict(decay_rate=0.9, decay_type='block_wise'), 'decay_type'),
    (dict(decay_rate=0.9, bias_lr_mult=2.), 'bias_lr_mult'),
    (dict(decay_rate=0.9, norm_decay_mult=1.), 'norm_decay_mult'),
])
def test_bad_paramwise_cfg(paramwise, match):
    with pytest.raises(ValueError, match=match):
        MambaVisionLayerDecayOptimizerConstructor(
            dict(optimizer=dict(type='AdamW', lr=LR, weight_decay=WD)), paramwise)


def test_zero_decay_mults_are_accepted():
    model = Toy()
    settings = _settings(_optim(model, decay_rate=RATE, norm_decay_mult=0., bias_decay_mult=0.), model)
    assert settings['head.0.weight'] == (LR, WD)


def test_not_a_mambavision_model():
    with pytest.raises(TypeError, match='MambaVision backbone'):
        _optim(nn.Linear(2, 2), decay_rate=RATE)


def test_on_a_detector_config():
    """From an mmdet config: the neck and heads at the full rate, the stem decayed most."""
    pytest.importorskip('mmdet')
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(Path(__file__).resolve().parents[2] / 'configs/det/mask_rcnn_mambavision_t.py'))
    cfg.model.backbone.update(arch=SMALL_ARCH, window_size=(8, 8, 4, 2), init_cfg=None)
    cfg.model.neck.in_channels = [16, 32, 64, 128]
    optim_cfg = dict(cfg.optim_wrapper, type='OptimWrapper',  # AmpOptimWrapper needs a GPU
                     constructor='MambaVisionLayerDecayOptimizerConstructor',
                     paramwise_cfg=dict(decay_rate=0.9, decay_type='layer_wise',
                                        custom_keys={'rpn_head': dict(lr_mult=2.)}))
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        settings = _settings(build_optim_wrapper(model, optim_cfg), model)
    base_lr, base_wd = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay
    assert settings['neck.lateral_convs.0.conv.weight'] == (base_lr, base_wd)
    assert settings['neck.lateral_convs.0.conv.bias'] == (base_lr, 0.)
    assert settings['roi_head.bbox_head.fc_cls.weight'] == (base_lr, base_wd)
    assert settings['rpn_head.rpn_conv.weight'] == pytest.approx((2 * base_lr, base_wd))
    assert settings['backbone.patch_embed.conv_down.0.weight'] == pytest.approx((base_lr * 0.9 ** 7, base_wd))
