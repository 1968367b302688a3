"""Latency of a callable: CUDA events on a GPU, `time.perf_counter` on the CPU (torch only, no mmcv)."""
import statistics
import time
from typing import Callable, Union

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
