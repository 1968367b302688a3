"""Timer / median_ms: the latency timer of the benchmark, the ONNX tool and tools/gpu_check.py (a fake clock)."""
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
