"""The benchmark's backbone names, tables and training summaries (no real timing: a fake timer)."""
import pytest

from mmvision_mamba.analysis.benchmark import backbone_cfg
from mmvision_mamba.analysis.benchmark_report import format_table
from mmvision_mamba.analysis.training_curves import summarise


def test_backbone_names() -> None:
    assert backbone_cfg('mambavision_tiny@8,8,112,56@fit') == dict(
        type='MambaVision', arch='tiny', window_size=(8, 8, 112, 56), window_mode='fit')
    assert backbone_cfg('mambavision_small') == dict(type='MambaVision', arch='small')
    with pytest.raises(ValueError, match='swin_t or resnet50'):
        backbone_cfg('vit_b')


def test_format_table() -> None:
    rows = [dict(suite='backbone', model='a', ms=1.23456, device_name='x'),
            dict(suite='backbone', model='bb', ms=None, error='E'), dict(suite='scan', backend='reference', ms=2.)]
    assert format_table(rows).split('\n') == ['  backend  ms', 'reference   2', '',
                                               'model    ms  error', '    a  1.23       ', '   bb            E']


def test_summarise_training_curves() -> None:
    history = [dict(loss=4., grad_norm=1., seconds=3.), dict(loss=2., grad_norm=5., seconds=1.),
               dict(loss=1., grad_norm=2., seconds=2.)]
    assert summarise(history, tail=2) == dict(finite=True, first_loss=4., last_loss_mean=1.5, max_grad_norm=5.,
                                              median_step_s=2.)
    assert not summarise(history + [dict(loss=float('nan'), grad_norm=1., seconds=1.)], 1)['finite']
