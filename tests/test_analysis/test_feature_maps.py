"""preprocess / feature_picture: the four levels' maps of a backbone drawn over an image, tiled into one picture."""
import numpy as np
import torch

from mmvision_mamba.analysis.feature_maps import feature_picture, preprocess
from mmvision_mamba.models import MambaVision


def test_preprocess() -> None:
    bgr = np.zeros((40, 80, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    pre = dict(mean=(0., 0., 0.), std=(255., 255., 255.), bgr_to_rgb=True)
    x, rgb = preprocess(bgr, pre, max_size=64)
    assert x.shape == (1, 3, 32, 64) and rgb.shape == (32, 64, 3) and rgb[0, 0].tolist() == [0, 0, 255]
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([0., 0., 1.]))
    x, _ = preprocess(bgr, None, max_size=64)  # ImageNet mean / std, BGR kept
    assert x[0, 0, 0, 0] > 0 > x[0, 2, 0, 0]


def test_feature_picture() -> None:
    backbone = MambaVision(dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2)),
                           out_indices=(0, 1, 2, 3)).eval()
    rgb = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    x = torch.randn(1, 3, 64, 96)
    picture = feature_picture(backbone, x, rgb)
    bar = 18
    assert picture.shape == (2 * (64 + bar), 2 * 96, 3) and picture.std() > 10
