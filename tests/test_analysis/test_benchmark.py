"""The benchmark's interleaved timing, per-round ratios, backbone names and tables (no real timing: a fake timer)."""
import pytest

from mmvision_mamba.analysis.benchmark import backbone_cfg
from mmvision_mamba.analysis.benchmark_report import format_table
from mmvision_mamba.analysis.training_curves import summarise
from mmvision_mamba.utils.timing import interleave, ratio_stats


def test_interleave_round_robin_with_rotating_start() -> None:
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in 'abc'}
    ms = iter(range(100))
    times = interleave(fns, lambda fn: (fn(), float(next(ms)))[1], rounds=3, warmup=2)
    assert calls == list('aabbcc') + list('abc') + list('bca') + list('cab')
    assert times == {'a': [0., 5., 7.], 'b': [1., 3., 8.], 'c': [2., 4., 6.]}


def test_ratio_stats_per_round() -> None:
    # the machine slows down 4x in round 2: per-round ratios stay 2.0 while the medians would not care
    times = {'base': [10., 40., 10.], 'slow': [20., 80., 20.], 'fast': [5., 20., 4.]}
    st = ratio_stats(times, 'base', 'time_vs_base')
    assert st['slow'] == dict(ms=20., time_vs_base=2., time_vs_base_min=2., time_vs_base_max=2., rounds=3)
    assert (st['fast']['time_vs_base'], st['fast']['time_vs_base_min'], st['fast']['time_vs_base_max']) == \
        (0.5, 0.4, 0.5)
    speed = ratio_stats(times, 'base', 'speed_vs_base', invert=True)
    assert speed['fast']['speed_vs_base'] == 2. and speed['base']['speed_vs_base'] == 1.


def test_backbone_names() -> None:
    assert backbone_cfg('mambavision_tiny@8,8,112,56@fit') == dict(
        type='MambaVision', arch='tiny', window_size=(8, 8, 112, 56), window_mode='fit')
    assert backbone_cfg('mambavision_small') == dict(type='MambaVision', arch='small')
    with pytest.raises(ValueError, match='swin_t or resnet50'):
        backbone_cfg('vit_b')


def test_ratio_quartiles_from_four_rounds() -> None:
    st = ratio_stats({'base': [1., 1., 1., 1.], 'm': [1., 2., 3., 4.]}, 'base', 'r')['m']
    assert (st['r_min'], st['r_q1'], st['r'], st['r_q3'], st['r_max']) == (1., 1.25, 2.5, 3.75, 4.)


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
