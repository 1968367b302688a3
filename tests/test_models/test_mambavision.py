"""Shapes, options and training behaviour of the MambaVision backbone."""
import pytest
import torch
from torch import nn

from mmvision_mamba.models import MambaVision

SMALL = dict(dim=16, in_dim=8, depths=(1, 1, 3, 2), num_heads=(1, 2, 2, 4), window_size=(4, 4, 4, 2))


@pytest.mark.parametrize('arch,dim', [('tiny', 80), ('tiny2', 80), ('small', 96), ('base', 128),
                                      ('large', 196), ('large2', 196), ('large3', 256)])
def test_arch_channels_and_shapes(arch: str, dim: int) -> None:
    model = MambaVision(arch).eval()
    assert model.out_channels == (dim, 2 * dim, 4 * dim, 8 * dim)
    assert model.num_features == model.out_channels
    if arch in ('tiny', 'base'):
        with torch.no_grad():
            outs = model(torch.randn(1, 3, 64, 96))
        assert [o.shape for o in outs] == [(1, dim * 2 ** i, 16 // 2 ** i, 24 // 2 ** i) for i in range(4)]


def test_parameter_count_matches_official() -> None:
    """Spec: T has 31.79 M parameters with its 1000-class head (BN 640 + Linear 640->1000)."""
    model = MambaVision('tiny', out_norm_cfg=None)
    head = 2 * 640 + 640 * 1000 + 1000
    assert round((sum(p.numel() for p in model.parameters()) + head) / 1e6, 2) == 31.79


def test_layer_scale_and_attention_layout() -> None:
    base, tiny = MambaVision('base'), MambaVision('tiny')
    assert torch.all(base.levels[2].blocks[0].gamma_1 == 1e-5)
    assert tiny.levels[2].blocks[0].gamma_1 is None
    # None is no layer scale, as in the official network; 'arch' (the default) is the arch's own
    small_b = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 2, 2, 4), layer_scale=1e-5)
    assert MambaVision(small_b, layer_scale=None).levels[3].blocks[1].gamma_1 is None
    assert torch.all(MambaVision(small_b, layer_scale='arch').levels[3].blocks[1].gamma_2 == 1e-5)
    assert torch.all(MambaVision(small_b, layer_scale=0.1).levels[3].blocks[1].gamma_2 == 0.1)
    assert MambaVision(small_b).levels[3].blocks[1].gamma_1 is not None
    kinds = ['qkv' if hasattr(b.mixer, 'qkv') else 'ssm' for b in tiny.levels[2].blocks]
    assert kinds == ['ssm'] * 4 + ['qkv'] * 4
    kinds = ['qkv' if hasattr(b.mixer, 'qkv') else 'ssm' for b in MambaVision('small').levels[2].blocks]
    assert kinds == ['ssm'] * 4 + ['qkv'] * 3


def test_arch_channels_without_building() -> None:
    assert MambaVision.arch_channels('B', (1, 2, 3)) == (256, 512, 1024)
    assert MambaVision.arch_channels('large3') == (256, 512, 1024, 2048)
    assert MambaVision.arch_channels(SMALL, -1) == (128, ) == MambaVision(SMALL, out_indices=-1).out_channels
    assert MambaVision.resolve_arch('t2') == dict(MambaVision.arch_settings['tiny2'])
    assert MambaVision.resolve_arch(SMALL) == dict(SMALL, drop_path_rate=0., layer_scale=None)
    with pytest.raises(ValueError, match='out_indices must be'):
        MambaVision.arch_channels('tiny', (0, 4))
    with pytest.raises(ValueError, match="Unknown MambaVision arch 'huge'"):
        MambaVision.arch_channels('huge')


def test_unknown_arch_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="'tiny', 'tiny2', 'small'"):
        MambaVision('huge')
    with pytest.raises(ValueError, match='needs the keys'):
        MambaVision(dict(dim=16))
    assert MambaVision('T').arch == MambaVision('tiny').arch


@pytest.mark.parametrize('out_indices', [(0,), (1, 3), (2,), (0, 1, 2, 3), (-1,)])
def test_out_indices(out_indices: tuple) -> None:
    model = MambaVision(SMALL, out_indices=out_indices).eval()
    levels = sorted(i % 4 for i in out_indices)
    outs = model(torch.randn(2, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [16 * 2 ** i for i in levels] == list(model.out_channels)
    with pytest.raises(ValueError, match='out_indices'):
        MambaVision(SMALL, out_indices=(4,))


@pytest.mark.parametrize('size', [(511, 511), (112, 137), (33, 65), (1, 1), (3, 3), (2, 9)])
def test_odd_sizes(size: tuple) -> None:
    model = MambaVision(SMALL).eval()
    outs = model(torch.randn(1, 3, *size))
    h, w = size
    h, w = -(-h // 4), -(-w // 4)
    for o in outs:
        assert o.shape[-2:] == (h, w)
        h, w = -(-h // 2), -(-w // 2)
        assert torch.isfinite(o).all()


def test_outnorm_is_layernorm_over_channels() -> None:
    model = MambaVision(SMALL, out_indices=(3,)).eval()
    out = model(torch.randn(2, 3, 64, 64))[0]
    torch.testing.assert_close(out.mean(1), torch.zeros_like(out.mean(1)), atol=1e-5, rtol=0)
    assert isinstance(model.outnorm3, nn.LayerNorm) and model.outnorm3.eps == 1e-5
    bn = MambaVision(SMALL, out_indices=(3,), out_norm_cfg=dict(type='BN'))
    assert isinstance(bn.outnorm3, nn.BatchNorm2d)
    assert isinstance(MambaVision(SMALL, out_norm_cfg=None).outnorm0, nn.Identity)


@pytest.mark.parametrize('frozen', [0, 1, 2, 4])
def test_frozen_stages(frozen: int) -> None:
    model = MambaVision(SMALL, frozen_stages=frozen)
    model.train()
    frozen_mods = [model.patch_embed] + [model.levels[i] for i in range(frozen)] + \
        [getattr(model, f'outnorm{i}') for i in range(frozen)]
    for m in frozen_mods:
        assert all(not p.requires_grad for p in m.parameters())
        assert not any(mm.training for mm in m.modules())
    for i in range(frozen, 4):
        assert all(p.requires_grad for p in model.levels[i].parameters())
        assert model.levels[i].training
    # frozen BN statistics do not move in training
    stats = model.patch_embed.conv_down[1].running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(model.patch_embed.conv_down[1].running_mean, stats)


def test_norm_eval() -> None:
    model = MambaVision(SMALL, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    assert model.levels[2].training
    assert all(m.training for m in MambaVision(SMALL).train().modules())


def test_every_parameter_gets_a_gradient() -> None:
    model = MambaVision(SMALL, layer_scale=1e-2).train()
    sum((o * torch.randn_like(o)).sum() for o in model(torch.randn(2, 3, 32, 48))).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_with_cp_same_outputs_and_grads() -> None:
    x = torch.randn(2, 3, 48, 48)
    grads = []
    outs = []
    for with_cp in (False, True):
        torch.manual_seed(0)
        model = MambaVision(SMALL, with_cp=with_cp, drop_path_rate=0.3).train()
        torch.manual_seed(1)
        out = model(x)
        sum((o ** 2).sum() for o in out).backward()
        outs.append(out)
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b)
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], msg=n)


def test_drop_path_rate() -> None:
    x = torch.randn(2, 3, 32, 32)
    torch.manual_seed(0)
    model = MambaVision(SMALL, drop_path_rate=0.5)
    assert model.levels[3].blocks[-1].drop_path.drop_prob == pytest.approx(0.5)
    torch.manual_seed(0)
    plain = MambaVision(SMALL, drop_path_rate=0.0)
    model.train(), plain.train()
    a, b = model(x)[3], plain(x)[3]
    assert not torch.allclose(a, b)
    model.eval(), plain.eval()
    torch.testing.assert_close(model(x)[3], plain(x)[3])
    assert MambaVision('base').levels[3].blocks[-1].drop_path.drop_prob == pytest.approx(0.3)


def test_bad_input_messages() -> None:
    model = MambaVision(SMALL).eval()
    with pytest.raises(ValueError, match=r'4-D \(N, C, H, W\)'):
        model(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match='expects 3 input channels'):
        model(torch.randn(1, 4, 32, 32))
    with pytest.raises(TypeError, match='floating-point'):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(TypeError, match='torch.Tensor'):
        model([[0.0]])
    with pytest.raises(ValueError, match='window_size'):
        MambaVision(SMALL, window_size=(7, 7))
    with pytest.raises(ValueError, match='frozen_stages'):
        MambaVision(SMALL, frozen_stages=5)
    with pytest.raises(ValueError, match=r'empty image of shape \(1, 3, 0, 32\)'):
        model(torch.randn(1, 3, 0, 32))
    with pytest.raises(ValueError, match='empty image'):
        model(torch.randn(2, 3, 32, 0))


def test_dtype_differing_from_the_weights() -> None:
    model = MambaVision(SMALL).eval()
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(TypeError, match=r'image is torch.float16 but the MambaVision weights are '
                                        r'torch.float32: cast the image .*torch.autocast'):
        model(x.half())
    with torch.no_grad():
        full = model(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):  # mixed precision still works
            outs = model(x.bfloat16())
    for a, b in zip(outs, full):
        assert a.dtype == torch.bfloat16
        torch.testing.assert_close(a.float(), b, atol=0.1, rtol=0)  # bf16: ~3 significant digits
    with torch.no_grad():
        assert all(o.dtype == torch.float16 for o in model.half()(x.half()))


SMALL_ARCH = {k: v for k, v in SMALL.items() if k != 'window_size'}


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(arch=dict(SMALL_ARCH, depths=(1, 1, 3))), ValueError,
     r"arch\['depths'\] must hold 4 positive ints, one per level .*got \(1, 1, 3\)"),
    (dict(arch=dict(SMALL_ARCH, num_heads=(1, 2, 2))), ValueError, r"arch\['num_heads'\] must hold 4"),
    (dict(arch=dict(SMALL_ARCH, depths=(1, 0, 3, 2))), ValueError, r"arch\['depths'\] must hold 4 positive"),
    (dict(arch=dict(SMALL_ARCH, dim=0)), ValueError, r"arch\['dim'\] must be an int >= 1, got 0"),
    (dict(arch=dict(SMALL_ARCH, num_heads=(1, 2, 3, 4))), ValueError,
     r'Level 2 has 64 channels .* num_heads\[2\]=3 does not divide'),
    (dict(arch=dict(SMALL_ARCH, depth=(1, 1, 3, 2))), ValueError, 'needs the keys'),
    (dict(arch=16), TypeError, 'arch must be a variant name or a dict'),
    (dict(drop_path_rate=1.0), ValueError, r'drop_path_rate must be a probability in \[0, 1\), got 1.0'),
    (dict(drop_path_rate=-0.1), ValueError, 'drop_path_rate must be a probability'),
    (dict(drop_rate=2), ValueError, 'drop_rate must be a probability'),
    (dict(attn_drop_rate=None), ValueError, 'attn_drop_rate must be a probability'),
    (dict(layer_scale=0.), ValueError,
     r"layer_scale must be None \(no layer scale\), a positive float such as 1e-5, or 'arch' \(the arch's own, "
     r'here None\), got 0.0'),
    (dict(layer_scale='default'), ValueError, "layer_scale must be None .*, or 'arch' .*got 'default'"),
    (dict(arch=dict(SMALL_ARCH, layer_scale=-1)), ValueError,
     r"arch\['layer_scale'\] must be None \(no layer scale\) or a positive float such as 1e-5, got -1"),
    (dict(mlp_ratio=0), ValueError, 'mlp_ratio must be a positive number'),
    (dict(in_channels=0), ValueError, 'in_channels must be an int >= 1, got 0'),
    (dict(out_indices=4), ValueError, r'out_indices must be an int or a non-empty sequence of ints in \[-4, 3\]'),
    (dict(out_indices=()), ValueError, 'out_indices must be'),
    (dict(out_indices='0123'), ValueError, 'out_indices must be'),
    (dict(window_size=(7, 7)), ValueError, r'window_size must be a positive int \(the window of levels 2 and 3\)'),
    (dict(window_size=0), ValueError, 'window_size must be a positive int'),
    (dict(frozen_stages=-2), ValueError, r'frozen_stages must be an int in \[-1, 4\]'),
    (dict(with_cp='yes'), TypeError, 'with_cp must be True or False'),
    (dict(out_norm_cfg='LN'), TypeError, "out_norm_cfg must be None or a dict with a 'type'"),
    (dict(out_norm_cfg=dict(type='LayerNorm2d')), ValueError,
     r"unknown norm type 'LayerNorm2d'; valid types: \[.*'BN'.*'GN'.*'LN'.*'SyncBN'.*\]"),
    (dict(out_norm_cfg=dict(type='BN', eps=1e-5, groups=2)), ValueError, r"out_norm_cfg=\{.*'groups': 2"),
    (dict(out_norm_cfg=dict(type='GN')), ValueError, 'could not be built by mmcv for 16 channels'),
])
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    kwargs = dict(dict(arch=SMALL), **kwargs)
    with pytest.raises(error, match=match):
        MambaVision(**kwargs)


def test_int_forms_of_out_indices_and_window_size() -> None:
    model = MambaVision(SMALL, out_indices=3, window_size=3)
    assert model.out_indices == (3,) and model.out_channels == (128,)
    assert model.window_size == (4, 4, 3, 3)
    assert [level.window_size for level in model.levels[2:]] == [3, 3]
    assert MambaVision('tiny', window_size=56, out_indices=-1).window_size == (8, 8, 56, 56)
    gn = MambaVision(SMALL, out_indices=(2,), out_norm_cfg=dict(type='GN', num_groups=4)).eval()
    assert isinstance(gn.outnorm2, nn.GroupNorm)
    assert gn(torch.randn(1, 3, 32, 32))[0].shape == (1, 64, 2, 2)


def test_registered_in_mmdet_and_mmseg() -> None:
    from mmdet.registry import MODELS as DET
    from mmseg.registry import MODELS as SEG
    for registry in (DET, SEG):
        model = registry.build(dict(type='MambaVision', arch=SMALL, out_indices=(1, 2)))
        assert isinstance(model, MambaVision) and model.out_channels == (32, 64)
