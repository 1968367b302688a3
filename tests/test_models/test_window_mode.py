"""Rectangular windows and the backbone's window_mode ('official' pads maps up to the window, 'fit' clips it)."""
import pytest
import torch

from mmvision_mamba.models import MambaVision
from mmvision_mamba.models.backbones.mambavision import MambaVisionLevel
from mmvision_mamba.models.layers import (level_window, pad_to_multiple, window_partition,
                                          window_reverse)

SMALL = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 2, 2, 4))
WINDOWS = (4, 4, 4, 2)
DET_WINDOWS = (8, 8, 112, 56)


def _pair(window_size=WINDOWS, seed: int = 0):
    """The same randomly initialised backbone in both modes (eval)."""
    torch.manual_seed(seed)
    official = MambaVision(SMALL, window_size=window_size).eval()
    fit = MambaVision(SMALL, window_size=window_size, window_mode='fit').eval()
    fit.load_state_dict(official.state_dict())
    return official, fit


@pytest.mark.parametrize('window,size', [((3, 5), (6, 10)), ((2, 7), (8, 7)), ((1, 1), (3, 2)), (4, (8, 12))])
def test_window_partition_round_trip(window, size) -> None:
    x = torch.randn(2, 3, *size)
    windows = window_partition(x, window)
    wh, ww = (window, window) if isinstance(window, int) else window
    assert windows.shape == (2 * size[0] // wh * size[1] // ww, wh * ww, 3)
    # first window: the top-left wh x ww patch of image 0, tokens row-major
    torch.testing.assert_close(windows[0], x[0, :, :wh, :ww].reshape(3, -1).t())
    # last window of image 0: its bottom-right patch
    n = size[0] // wh * size[1] // ww
    torch.testing.assert_close(windows[n - 1], x[0, :, -wh:, -ww:].reshape(3, -1).t())
    assert torch.equal(window_reverse(windows, window, size), x)


def test_pad_to_multiple_per_dimension() -> None:
    x = torch.randn(1, 2, 5, 7)
    padded = pad_to_multiple(x, (3, 7))
    assert padded.shape == (1, 2, 6, 7)
    assert torch.equal(padded[..., :5, :], x) and not padded[..., 5:, :].any()
    assert pad_to_multiple(x, (5, 7)) is x


def test_level_window() -> None:
    assert level_window(112, (50, 84)) == (112, 112)
    assert level_window(112, (50, 84), 'fit') == (50, 84)
    assert level_window(14, (50, 84), 'fit') == (14, 14)
    assert level_window(56, (25, 60), 'fit') == (25, 56)


def test_bad_window_mode_message() -> None:
    with pytest.raises(ValueError, match=r"window_mode must be 'official' .* or 'fit' .* got 'pad'"):
        MambaVision(SMALL, window_mode='pad')
    assert MambaVision(SMALL).window_mode == 'official'
    assert all(level.window_mode == 'fit' for level in MambaVision(SMALL, window_mode='fit').levels)


@pytest.mark.parametrize('size', [(511, 511), (33, 65), (1, 1), (97, 40)])
@pytest.mark.parametrize('window_size', [WINDOWS, DET_WINDOWS])
def test_fit_shapes_at_odd_sizes(size, window_size) -> None:
    model = MambaVision(SMALL, window_size=window_size, window_mode='fit').eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, *size))
    h, w = -(-size[0] // 4), -(-size[1] // 4)
    for i, o in enumerate(outs):
        assert o.shape == (1, 16 * 2 ** i, h, w)
        assert torch.isfinite(o).all()
        h, w = -(-h // 2), -(-w // 2)


@pytest.mark.parametrize('size', [
    (64, 64),    # level 2 / 3 maps 4x4 / 2x2: exactly the windows
    (128, 192),  # 8x12 / 4x6: multiples of the windows
    (80, 112),   # 5x7 / 3x4: larger than the windows, the remainder is padded in both modes
])
def test_fit_equals_official_when_no_map_is_smaller_than_its_window(size) -> None:
    official, fit = _pair()
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        for a, b in zip(official(x), fit(x)):
            assert torch.equal(a, b)


def test_fit_equals_official_gradients_where_maps_tile() -> None:
    official, fit = _pair()
    x = torch.randn(1, 3, 64, 128)
    grads = []
    for model in (official, fit):
        model.train()
        sum((o * o).mean() for o in model(x)).backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name, g in grads[0].items():
        assert torch.equal(g, grads[1][name]), name


def test_fit_differs_where_official_pads() -> None:
    official, fit = _pair()
    x = torch.randn(1, 3, 48, 80)  # level 2: 3x5 map -> official pads to 4x8, fit uses (3, 4) windows
    with torch.no_grad():
        a, b = official(x), fit(x)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # conv levels: no windows
    for i in (2, 3):
        assert a[i].shape == b[i].shape
        assert (a[i] - b[i]).abs().max() > 1e-3


def test_fit_level_sees_only_the_map() -> None:
    """A map no larger than its window is one window of exactly its tokens, row-major."""
    torch.manual_seed(0)
    level = MambaVisionLevel(dim=32, depth=3, num_heads=2, window_size=16, conv=False, downsample=False,
                             drop_path=[0.] * 3, layer_scale=None, window_mode='fit').eval()
    x = torch.randn(2, 32, 5, 7)
    with torch.no_grad():
        out = level(x)
        tokens = level.run_blocks(x.flatten(2).transpose(1, 2))  # (B, H * W, C)
        level.window_mode = 'official'
        padded = level(x)
    torch.testing.assert_close(out, tokens.transpose(1, 2).reshape(2, 32, 5, 7), rtol=1e-5, atol=1e-5)
    assert (out - padded).abs().max() > 1e-3


def test_fit_gradients_finite_where_official_is_mostly_padding() -> None:
    """64x64 with the detection windows: level 2 is a 4x4 map, 16 of the 12,544 tokens official attends."""
    x = torch.randn(2, 3, 64, 64)
    norms = {}
    for mode in ('official', 'fit'):
        torch.manual_seed(0)
        model = MambaVision(SMALL, window_size=DET_WINDOWS, window_mode=mode)
        model.init_weights()
        model.train()
        sum(o.float().pow(2).mean() for o in model(x)).backward()
        grads = {n: p.grad for n, p in model.named_parameters()}
        assert all(g is not None for g in grads.values())
        norms[mode] = {part: torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(g) for n, g in grads.items() if n.startswith(prefix)])).item()
            for part, prefix in (('all', ''), ('level 2', 'levels.2.'), ('level 3', 'levels.3.'))}
    assert all(torch.isfinite(torch.tensor(list(n.values()))).all() for n in norms.values()), norms
    print(f'\ngrad norms at 64x64, windows {DET_WINDOWS}: official {norms["official"]}, fit {norms["fit"]}')
