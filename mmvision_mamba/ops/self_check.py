"""Self-checks of the accelerated ops against their references, on a tiny problem, once per process and device.

A kernel that has not run on a given machine before (a Triton build, a mamba-ssm or causal-conv1d wheel built for
another GPU) is compared with the PyTorch reference before it is trusted with training: outputs and the gradients
of every input, float32 on the device against float64 on the CPU. A check takes milliseconds once the kernels are
compiled (a Triton backend also compiles its kernels here, which it would otherwise do on its first call).
"""
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..testing.scan_inputs import SCAN_ARGS, scan_inputs
from ..utils.tensor_error import tensor_error
from .selective_scan_ref import selective_scan_ref

#: a result passes when every output and gradient is within RTOL * max(1, max |reference|) of the reference
RTOL = 1e-3
#: the scan problem: (batch, dim, N, L); L crosses the chunk boundaries of the CPU (16) and Triton (32) kernels
SCAN_SHAPE = (2, 6, 3, 37)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one self-check.

    Args:
        passed: outputs and gradients matched the reference.
        max_abs_err: largest absolute difference over outputs and gradients (nan when the op raised).
        detail: what failed ('' when passed).
        seconds: wall time of the check, compilation included.
    """
    passed: bool
    max_abs_err: float
    detail: str = ''
    seconds: float = 0.0


_lock = threading.RLock()
_results: Dict[Tuple[str, str], CheckResult] = {}


def cached_check(name: str, device: torch.device, run: Callable[[torch.device], CheckResult]) -> CheckResult:
    """`run(device)` once per process for (name, device); later calls return the first result."""
    key = (name, str(device))
    with _lock:
        if key not in _results:
            _results[key] = run(device)
        return _results[key]


def _compare(names: Sequence[str], actual: Sequence[Optional[Tensor]], expected: Sequence[Tensor]) -> CheckResult:
    worst, failures = 0.0, []
    for name, a, e in zip(names, actual, expected):
        if a is None or tuple(a.shape) != tuple(e.shape):
            failures.append(f'{name} has shape {None if a is None else tuple(a.shape)}, expected {tuple(e.shape)}')
            worst = math.nan
            continue
        err = tensor_error(e, a)
        if not math.isfinite(err.abs):
            failures.append(f'{name} is not finite')
            worst = math.nan
            continue
        worst = max(worst, err.abs) if math.isfinite(worst) else worst
        tol = RTOL * max(1.0, err.scale)
        if err.abs > tol:
            failures.append(f'{name} off by {err.abs:.2e} (tolerance {tol:.1e})')
    more = f'; and {len(failures) - 3} more' if len(failures) > 3 else ''
    return CheckResult(not failures, worst, '; '.join(failures[:3]) + more)


def _guarded(check: Callable[[], CheckResult], device: torch.device) -> CheckResult:
    """Runs `check` eagerly in float32 with autograd on, whatever the caller's modes (no_grad, inference_mode,
    autocast, a fake/proxy tensor mode of a tracer); an exception (a compile error, a missing symbol) fails it."""
    from torch.utils._python_dispatch import _disable_current_modes

    start = time.perf_counter()
    try:
        with _disable_current_modes(), torch.inference_mode(False), torch.enable_grad(), \
                torch.autocast(device.type, enabled=False):
            result = check()
    except Exception as err:  # noqa: BLE001 - any failure of the op is a failed check
        result = CheckResult(False, math.nan, f'{type(err).__name__}: {str(err).strip()[:300]}')
    return CheckResult(result.passed, result.max_abs_err, result.detail, time.perf_counter() - start)


def scan_problem(device: torch.device, dtype: torch.dtype = torch.float32) -> Dict[str, Tensor]:
    """The self-check's scan inputs, (batch, dim, N, L) = SCAN_SHAPE, with a fixed seed."""
    batch, dim, n_state, length = SCAN_SHAPE
    return scan_inputs(batch, dim, n_state, length, dtype=dtype, device=device)


def _run_scan(fn: Callable, x: Dict[str, Tensor], weight: Tensor, grads: bool) -> List[Tensor]:
    leaves = {k: v.detach().clone().requires_grad_(grads) for k, v in x.items()}
    out, last = fn(*[leaves[k] for k in SCAN_ARGS], delta_softplus=True, return_last_state=True)
    results = [out, last]
    if grads:  # through out only: mamba-ssm cannot back-propagate through the last state
        results += torch.autograd.grad((out * weight.to(out)).sum(), [leaves[k] for k in SCAN_ARGS])
    return results


def check_scan(fn: Callable, device: torch.device, grads: bool = True) -> CheckResult:
    """Compares a scan backend `fn` (selective_scan's signature) on `device` with the float64 reference."""
    device = torch.device(device)
    names = ['out', 'last state'] + ([f'grad {k}' for k in SCAN_ARGS] if grads else [])

    def check() -> CheckResult:
        x = scan_problem(device)
        weight = torch.randn(x['u'].shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        expected = _run_scan(selective_scan_ref, {k: v.cpu().double() for k, v in x.items()}, weight, grads)
        actual = _run_scan(fn, x, weight.to(device), grads)
        return _compare(names, actual, [e.detach() for e in expected])

    return _guarded(check, device)


def check_same_conv(fn: Callable[[Tensor, Tensor], Tensor], device: torch.device) -> CheckResult:
    """Compares a fused silu('same' depthwise conv1d) `fn(x (batch, C, L), weight (C, 1, 3))` on `device` with
    F.conv1d in float64 on the CPU, output and gradients."""
    device = torch.device(device)

    def run(conv: Callable, x: Tensor, w: Tensor, dy: Tensor) -> List[Tensor]:
        x, w = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
        y = conv(x, w)
        return [y, *torch.autograd.grad((y * dy.to(y)).sum(), [x, w])]

    def reference(x: Tensor, w: Tensor) -> Tensor:
        return F.silu(F.conv1d(x, w, padding=w.shape[-1] // 2, groups=x.shape[1]))

    def check() -> CheckResult:
        g = torch.Generator().manual_seed(0)
        x, w, dy = torch.randn(2, 8, 37, generator=g), torch.randn(8, 1, 3, generator=g), torch.randn(2, 8, 37,
                                                                                                         generator=g)
        expected = run(reference, x.double(), w.double(), dy.double())
        actual = run(fn, x.to(device), w.to(device), dy.to(device))
        return _compare(['out', 'grad x', 'grad weight'], actual, [e.detach() for e in expected])

    return _guarded(check, device)
