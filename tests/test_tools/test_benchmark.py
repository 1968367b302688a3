"""tools/analysis_tools/benchmark.py's interleaved timing and ratios (no real timing: a fake timer)."""
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def bench():
    path = osp.join(ROOT, 'tools', 'analysis_tools', 'benchmark.py')
    spec = importlib.util.spec_from_file_location('benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_interleave_round_robin_with_rotating_start(bench) -> None:
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in 'abc'}
    ms = iter(range(100))
    times = bench.interleave(fns, lambda fn: (fn(), float(next(ms)))[1], rounds=3, warmup=2)
    assert calls == list('aabbcc') + list('abc') + list('bca') + list('cab')
    assert times == {'a': [0., 5., 7.], 'b': [1., 3., 8.], 'c': [2., 4., 6.]}


def test_ratio_stats_per_round(bench) -> None:
    # the machine slows down 4x in round 2: per-round ratios stay 2.0 while the medians would not care
    times = {'base': [10., 40., 10.], 'slow': [20., 80., 20.], 'fast': [5., 20., 4.]}
    st = bench.ratio_stats(times, 'base', 'time_vs_base')
    assert st['slow'] == dict(ms=20., time_vs_base=2., time_vs_base_min=2., time_vs_base_max=2., rounds=3)
    assert (st['fast']['time_vs_base'], st['fast']['time_vs_base_min'], st['fast']['time_vs_base_max']) == \
        (0.5, 0.4, 0.5)
    speed = bench.ratio_stats(times, 'base', 'speed_vs_base', invert=True)
    assert speed['fast']['speed_vs_base'] == 2. and speed['base']['speed_vs_base'] == 1.


def test_backbone_names(bench) -> None:
    assert bench.backbone_cfg('mambavision_tiny@8,8,112,56@fit') == dict(
        type='MambaVision', arch='tiny', window_size=(8, 8, 112, 56), window_mode='fit')
    assert bench.backbone_cfg('mambavision_small') == dict(type='MambaVision', arch='small')
    with pytest.raises(ValueError, match='swin_t or resnet50'):
        bench.backbone_cfg('vit_b')


def test_ratio_quartiles_from_four_rounds(bench) -> None:
    st = bench.ratio_stats({'base': [1., 1., 1., 1.], 'm': [1., 2., 3., 4.]}, 'base', 'r')['m']
    assert (st['r_min'], st['r_q1'], st['r'], st['r_q3'], st['r_max']) == (1., 1.25, 2.5, 3.75, 4.)


def test_old_path_forwards_its_arguments() -> None:
    res = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'benchmark.py'), '--suite', 'nope'],
                         capture_output=True, text=True, timeout=120)
    assert 'moved to tools/analysis_tools/benchmark.py' in res.stderr
    assert res.returncode == 2 and "argument --suite: invalid choice: 'nope'" in res.stderr
