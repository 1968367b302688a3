"""Timer / median_ms / interleave / ratio_stats: the latency timing of the benchmark, the ONNX tool and
tools/gpu_check.py (a fake clock)."""
import pytest
import torch

from mmvision_mamba.utils import timing


@pytest.fixture
def clock(monkeypatch) -> list:
    """time.perf_counter that returns 0, 1, 3, 6, 10, ... seconds (each call waits one second longer)."""
    ticks = []

    def perf_counter() -> float:
        ticks.append(len(ticks))
        return float(sum(ticks))

    monkeypatch.setattr(timing.time, 'perf_counter', perf_counter)
    return ticks


def test_cpu_timer_is_wall_time_of_the_call(clock) -> None:
    calls = []
    assert timing.Timer('cpu')(lambda: calls.append(1)) == 1e3  # perf_counter 0 -> 1 s
    assert calls == [1]
    assert not timing.Timer(torch.device('cpu')).cuda and timing.Timer('cuda:0').cuda


def test_median_after_warmup(clock) -> None:
    calls = []
    # warmup untimed; timed calls take 1, 3, 5 s (perf_counter pairs 0-1, 3-6, 10-15)
    assert timing.median_ms(lambda: calls.append(1), repeats=3, warmup=2) == 3e3
    assert len(calls) == 5 and len(clock) == 6
    with pytest.raises(ValueError, match='repeats must be at least 1, got 0'):
        timing.median_ms(lambda: None, repeats=0)


def test_interleave_round_robin_with_rotating_start() -> None:
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in 'abc'}
    ms = iter(range(100))
    times = timing.interleave(fns, lambda fn: (fn(), float(next(ms)))[1], rounds=3, warmup=2)
    assert calls == list('aabbcc') + list('abc') + list('bca') + list('cab')
    assert times == {'a': [0., 5., 7.], 'b': [1., 3., 8.], 'c': [2., 4., 6.]}


def test_ratio_stats_per_round() -> None:
    # the machine slows down 4x in round 2: per-round ratios stay 2.0
    times = {'base': [10., 40., 10.], 'slow': [20., 80., 20.], 'fast': [5., 20., 4.]}
    st = timing.ratio_stats(times, 'base', 'time_vs_base')
    assert st['slow'] == dict(ms=20., time_vs_base=2., time_vs_base_min=2., time_vs_base_max=2., rounds=3)
    assert (st['fast']['time_vs_base'], st['fast']['time_vs_base_min'], st['fast']['time_vs_base_max']) == \
        (0.5, 0.4, 0.5)
    speed = timing.ratio_stats(times, 'base', 'speed_vs_base', invert=True)
    assert speed['fast']['speed_vs_base'] == 2. and speed['base']['speed_vs_base'] == 1.


def test_ratio_quartiles_from_four_rounds() -> None:
    st = timing.ratio_stats({'base': [1., 1., 1., 1.], 'm': [1., 2., 3., 4.]}, 'base', 'r')['m']
    assert (st['r_min'], st['r_q1'], st['r'], st['r_q3'], st['r_max']) == (1., 1.25, 2.5, 3.75, 4.)
