"""The backbone against an independent, naive re-implementation of the spec (tests/naive_mambavision.py)."""
import pytest
import torch

from mmvision_mamba.models import MambaVision
from tests.naive_mambavision import naive_mambavision, randomize_state_dict

WINDOWS = (8, 8, 14, 7)


def random_backbone(arch: str, dtype: torch.dtype, seed: int = 0) -> MambaVision:
    model = MambaVision(arch, window_size=WINDOWS).eval()
    state = randomize_state_dict(model.state_dict(), seed=seed)
    model.load_state_dict(state)
    return model.to(dtype)


def max_rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize('arch', ['tiny', 'base'])
@pytest.mark.parametrize('size', [(224, 224), (200, 328), (40, 72)])
def test_matches_naive_spec(arch: str, size: tuple) -> None:
    """fp64 to 1e-9 and fp32 to 1e-4 relative, against one fp64 run of the naive implementation."""
    model = random_backbone(arch, torch.float64)
    a = model.arch
    x = torch.randn(1, 3, *size, dtype=torch.float64)
    with torch.no_grad():
        ref = naive_mambavision(model.state_dict(), x, a['depths'], a['num_heads'], WINDOWS)
        for dtype, tol in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
            ours = model.to(dtype)(x.to(dtype))
            assert len(ours) == 4
            for level, (o, r) in enumerate(zip(ours, ref)):
                assert o.dtype == dtype and o.shape == r.shape, level
                err = max_rel_err(o.double(), r)
                assert err <= tol, (dtype, level, err)


def test_random_weights_are_nontrivial() -> None:
    """Layer scale, BN statistics and A_log really are random, so the comparison above has teeth."""
    model = random_backbone('base', torch.float64)
    sd = model.state_dict()
    assert sd['levels.2.blocks.0.gamma_1'].min() > 0.1
    assert sd['levels.0.blocks.0.norm1.running_var'].std() > 0.05
    assert not torch.allclose(sd['levels.2.blocks.0.mixer.A_log'][0], torch.log(torch.arange(1., 9.).double()))


def test_level_smaller_than_window_pads_like_reference() -> None:
    """At 40x72 the level-2 map (3x5) is padded to one 14x14 window: outputs depend on the padding."""
    model = random_backbone('tiny', torch.float64)
    x = torch.randn(1, 3, 40, 72, dtype=torch.float64)
    with torch.no_grad():
        padded = model(x)[2]
        model.levels[2].window_size = 3  # no padding at all at this size
        unpadded = model(x)[2]
    assert padded.shape == unpadded.shape == (1, 320, 3, 5)
    assert max_rel_err(padded, unpadded) > 1e-3
