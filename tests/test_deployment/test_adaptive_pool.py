"""ExportableAdaptiveAvgPool2d equals nn.AdaptiveAvgPool2d, also where the bins overlap or the map is smaller."""
import pytest
import torch
from torch import nn

from mmvision_mamba.deployment import ExportableAdaptiveAvgPool2d, replace_adaptive_avg_pools


@pytest.mark.parametrize('output_size', [1, 2, 3, 6, (2, 5)])
@pytest.mark.parametrize('size', [(7, 5), (4, 4), (13, 29), (2, 3)])
def test_matches_adaptive_avg_pool(output_size, size):
    x = torch.randn(2, 3, *size)
    torch.testing.assert_close(ExportableAdaptiveAvgPool2d(output_size)(x), nn.AdaptiveAvgPool2d(output_size)(x))


def test_replace_in_place():
    model = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Sequential(nn.AdaptiveAvgPool2d(3), nn.AdaptiveAvgPool2d(1)))
    assert replace_adaptive_avg_pools(model) == 2
    assert isinstance(model[1][0], ExportableAdaptiveAvgPool2d) and model[1][0].output_size == (3, 3)
