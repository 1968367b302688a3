"""Latency of a callable: CUDA events on a GPU, `time.perf_counter` on the CPU (torch only, no mmcv); callables timed
interleaved, and their per-round time ratios."""
import statistics
import time
from typing import Callable, Dict, List, Union

import torch


class Timer:
    """Milliseconds of one call of a function.

    On a CUDA device the call is bracketed by CUDA events and the stream is synchronised after it, so the time is
    that of the GPU work the call queued; elsewhere it is the wall time of the call.

    Args:
        device: where the timed work runs.
    """

    def __init__(self, device: Union[str, torch.device] = 'cpu'):
        self.cuda = torch.device(device).type == 'cuda'

    def __call__(self, fn: Callable[[], object]) -> float:
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end)
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1e3


def median_ms(fn: Callable[[], object], repeats: int = 10, warmup: int = 2,
              device: Union[str, torch.device] = 'cpu') -> float:
    """Median milliseconds of `fn()` over `repeats` timed calls (`Timer`), after `warmup` untimed ones."""
    if repeats < 1:
        raise ValueError(f'repeats must be at least 1, got {repeats}.')
    for _ in range(warmup):
        fn()
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()
    timer = Timer(device)
    return statistics.median(timer(fn) for _ in range(repeats))


def interleave(fns: Dict[str, Callable[[], object]], timer: Callable[[Callable[[], object]], float], rounds: int,
               warmup: int = 1) -> Dict[str, List[float]]:
    """Times the callables call by call, round-robin, in this process: {name: [ms of each round]}, so that noise on
    the machine falls on all of them alike.

    Each is warmed up first; every round starts one callable later, so that none always runs
    first (or right after the same other one).

    Args:
        timer: ms of one call, e.g. a :class:`Timer`.
    """
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(rounds):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            times[name].append(timer(fns[name]))
    return times


def ratio_stats(times: Dict[str, List[float]], baseline: str, key: str,
                invert: bool = False) -> Dict[str, dict]:
    """Per name: median ms and the median, min, max (and quartiles from 4 rounds) over rounds of
    time / baseline's time of the same round (`invert`: baseline's time / time, a speed ratio)."""
    out = {}
    for name, ts in times.items():
        per_round = [(b / t if invert else t / b) for t, b in zip(ts, times[baseline])]
        out[name] = {'ms': statistics.median(ts), key: statistics.median(per_round),
                     f'{key}_min': min(per_round), f'{key}_max': max(per_round), 'rounds': len(ts)}
        if len(per_round) >= 4:  # interquartile range: the spread without the odd disturbed round
            out[name][f'{key}_q1'], _, out[name][f'{key}_q3'] = statistics.quantiles(per_round, n=4)
    return out
