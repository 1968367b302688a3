"""The one dispatch point of the selective scan: input validation, backend choice, self-checks and logging.

Backend choice: `backend=` argument, else the innermost `scan_backend(name)` context, else $MMVM_SCAN_BACKEND, else
'auto', which takes the first registered backend (in priority order) that supports the input and has passed its
self-check on the input's device. Built-in order:
'mamba_ssm' (CUDA, when mamba-ssm imports), 'triton' (CUDA), 'cpu' (compiled C++ kernel), 'reference'.

Backends registered with `self_check=True` (the CUDA ones) are compared with the reference on a tiny problem on
first use per process and device (see `self_check.py`). Under 'auto', one that fails gives one warning and the next
backend runs. A backend named explicitly (argument or environment) that fails raises instead: the caller asked for
that kernel, and falling back silently would hide that it is broken. The choice is logged once per
(backend, device type), with the reasons when 'auto' passed over a backend. Under torch.compile the choice and the
self-check run eagerly while tracing (`torch.compiler.assume_constant_result`), so the graph holds the chosen
backend only.
"""
import contextlib
import logging
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

import torch
from torch import Tensor

from .self_check import CheckResult, cached_check, check_scan
from .selective_scan_ref import selective_scan_ref

ScanFn = Callable[..., Union[Tensor, Tuple[Tensor, Tensor]]]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanBackend:
    """A registered backend (see `register_backend`)."""
    name: str
    fn: ScanFn
    supports: Callable[[Tensor], bool]
    priority: float
    device_types: Tuple[str, ...]
    self_check: bool
    requires: str
    auto: bool = True


_BACKENDS: Dict[str, ScanBackend] = {}
_ORDER: List[str] = []  # names in 'auto' order
_lock = threading.Lock()
_logged: set = set()  # (backend, device type) whose choice has been logged
_warned: set = set()  # (backend, device) whose failed self-check has been warned about
_resolved: Dict[tuple, str] = {}
_context: List[str] = []  # the names of the enclosing `scan_backend` contexts, innermost last (process-wide)


def register_backend(name: str, fn: ScanFn, supports: Callable[[Tensor], bool], priority: Optional[float] = None,
                     *, device_types: Tuple[str, ...] = (), self_check: bool = False, requires: str = '',
                     auto: bool = True) -> None:
    """Adds (or replaces) a scan backend.

    Args:
        name: what `backend=` and $MMVM_SCAN_BACKEND call it.
        fn: the scan, with `selective_scan_ref`'s signature.
        supports: whether it can run on a given `u` (device, dtype, packages present).
        priority: its place in the 'auto' order, lower first (built-in: mamba_ssm 10, triton 20, cpu 30,
            reference 100); default: after all registered so far.
        device_types: the device types it is meant for ('cuda', 'cpu'); empty: any. When 'auto' passes over it on
            such a device, the log says why.
        self_check: compare it with the reference on first use per process and device before trusting it.
        requires: what `supports` needs, for the log when 'auto' passes over it (e.g. 'the mamba_ssm package').
        auto: whether 'auto' may choose it; False for a backend that runs only when named (e.g. one without a
            backward, such as the FLOP counter's in mmvision_mamba.analysis.flops).
    """
    if priority is None:
        priority = max((b.priority for b in _BACKENDS.values() if b.name != 'reference'), default=0) + 1
    with _lock:
        _BACKENDS[name] = ScanBackend(name, fn, supports, priority, tuple(device_types), self_check, requires, auto)
        _ORDER[:] = sorted((n for n in _BACKENDS if _BACKENDS[n].auto), key=lambda n: _BACKENDS[n].priority)
        _resolved.clear()


def available_backends(u: Optional[Tensor] = None) -> List[str]:
    """Backends in 'auto' order; with `u`, only those that can run on it (self-checks not run)."""
    return [name for name in _ORDER if u is None or _BACKENDS[name].supports(u)]


@contextlib.contextmanager
def scan_backend(name: str) -> Iterator[None]:
    """Within the context, scans called without `backend=` run on backend `name` (over $MMVM_SCAN_BACKEND).

    The setting is process-wide, not per thread; contexts nest (the innermost wins).
    """
    if name != 'auto' and name not in _BACKENDS:
        raise ValueError(f'Unknown selective-scan backend {name!r}; choose "auto" or one of {sorted(_BACKENDS)}.')
    _context.append(name)
    try:
        yield
    finally:
        _context.pop()


def _device_str(device_type: str, index: Optional[int]) -> str:
    return device_type if index is None else f'{device_type}:{index}'


def self_check_result(name: str, device: Union[str, torch.device]) -> CheckResult:
    """The (cached) result of backend `name`'s self-check on `device`; runs it on first call."""
    backend = _BACKENDS[name]
    return cached_check(f'scan:{name}', torch.device(device), lambda d: check_scan(backend.fn, d))


def _check_failure(name: str, device: str) -> Optional[CheckResult]:
    if not _BACKENDS[name].self_check:
        return None
    result = self_check_result(name, device)
    return None if result.passed else result


def _log_choice(name: str, device_type: str, how: str, passed_over: List[str]) -> None:
    if (name, device_type) in _logged:
        return
    _logged.add((name, device_type))
    msg = f'mmvision_mamba: selective scan on {device_type} runs on backend {name!r} ({how}'
    msg += '; passed over: ' + '; '.join(passed_over) + ')' if passed_over else ')'
    logger.info(msg)  # reaches mmengine's log through mmvision_mamba.engine.logging


@torch.compiler.assume_constant_result
def _choose(requested: str, how: str, candidates: Tuple[str, ...], device_type: str, index: Optional[int]) -> str:
    """The backend for an input on (device_type, index) that the backends in `candidates` support; runs pending
    self-checks, warns about failed ones and logs the choice. Eager even under torch.compile (a constant)."""
    key = (requested, how, candidates, device_type, index)
    if key in _resolved:
        return _resolved[key]
    device = _device_str(device_type, index)
    if requested != 'auto':
        failed = _check_failure(requested, device)
        if failed is not None:
            raise RuntimeError(
                f'Selective-scan backend {requested!r} ({how}) failed its self-check against the reference on '
                f'{device}: {failed.detail}. Its results would be wrong here: use backend="auto" (or unset '
                f'MMVM_SCAN_BACKEND) to fall back to the next backend that passes, or fix its installation.')
        _log_choice(requested, device_type, how, [])
        _resolved[key] = requested
        return requested
    passed_over, failed_checks = [], []
    chosen = None
    for name in _ORDER:
        backend = _BACKENDS[name]
        if name not in candidates:
            if device_type in backend.device_types:
                passed_over.append(f'{name!r} needs {backend.requires or "what it supports"}')
            continue
        failed = _check_failure(name, device)
        if failed is None:
            chosen = name
            break
        passed_over.append(f'{name!r} failed its self-check on {device} ({failed.detail})')
        failed_checks.append((name, failed))
    for name, failed in failed_checks:
        if (name, device) not in _warned:
            _warned.add((name, device))
            warnings.warn(f'mmvision_mamba: the selective-scan backend {name!r} failed its self-check against the '
                          f'reference on {device} ({failed.detail}); "auto" uses {chosen!r} instead.',
                          RuntimeWarning, stacklevel=2)
    if chosen is None:
        raise RuntimeError(f'No selective-scan backend passed its self-check on {device}: {"; ".join(passed_over)}')
    _log_choice(chosen, device_type, how, passed_over)
    _resolved[key] = chosen
    return chosen


def resolve_backend(u: Tensor, backend: Optional[str] = None) -> str:
    """Picks the backend for `u`: the argument, else the innermost `scan_backend` context, else $MMVM_SCAN_BACKEND,
    else the first in 'auto' order that supports `u` and passes its self-check on u's device."""
    if backend:
        name, how = backend, f'backend={backend!r}'
    elif _context:
        name, how = _context[-1], f'scan_backend({_context[-1]!r})'
    else:
        name = os.environ.get('MMVM_SCAN_BACKEND') or 'auto'
        how = f'MMVM_SCAN_BACKEND={name}'
    how = 'auto' if name == 'auto' else how
    if name == 'auto':
        candidates = tuple(available_backends(u))
    else:
        if name not in _BACKENDS:
            raise ValueError(f'Unknown selective-scan backend {name!r} ({how}); '
                             f'choose "auto" or one of {sorted(_BACKENDS)}.')
        if not _BACKENDS[name].supports(u):
            raise RuntimeError(f'Selective-scan backend {name!r} ({how}) cannot run on a {u.dtype} tensor on '
                               f'{u.device}; available here: {available_backends(u)}.')
        candidates = (name,)
    return _choose(name, how, candidates, u.device.type, u.device.index)


def _shape_error(arg: str, expected: str, got: Tensor) -> ValueError:
    return ValueError(f'selective_scan: {arg} must have shape {expected}, got {tuple(got.shape)}.')


def check_inputs(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor] = None,
                 z: Optional[Tensor] = None, delta_bias: Optional[Tensor] = None) -> None:
    """Raises ValueError naming the argument, the expected and the given shape (or dtype, or device).

    Shapes: u, delta, z (batch, dim, L); A (dim, N); B, C (batch, N, L), (batch, G, N, L) with G dividing dim, or
    time-invariant (dim, N); D, delta_bias (dim,). All floating point (dtypes may differ, as under autocast), on
    u's device.
    """
    tensors = dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z, delta_bias=delta_bias)
    for arg, t in tensors.items():
        if t is None:
            if arg in ('u', 'delta', 'A', 'B', 'C'):
                raise ValueError(f'selective_scan: {arg} is required, got None.')
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f'selective_scan: {arg} must be a torch.Tensor, got {type(t).__name__}.')
        if not t.is_floating_point():
            raise ValueError(f'selective_scan: {arg} must be floating point, got {t.dtype}.')
        if t.device != u.device:
            raise ValueError(f'selective_scan: {arg} is on {t.device} but u is on {u.device}; '
                             'all inputs must be on one device.')
    if u.dim() != 3:
        raise _shape_error('u', '(batch, dim, L)', u)
    batch, dim, length = u.shape
    for arg in ('delta', 'z'):
        t = tensors[arg]
        if t is not None and t.shape != u.shape:
            raise _shape_error(arg, f'(batch, dim, L) = {tuple(u.shape)} like u', t)
    if A.dim() != 2 or A.shape[0] != dim:
        raise _shape_error('A', f'(dim, N) = ({dim}, N)', A)
    n_state = A.shape[1]
    for arg in ('B', 'C'):
        t = tensors[arg]
        ok = ((t.dim() == 2 and t.shape == (dim, n_state))
              or (t.dim() == 3 and t.shape == (batch, n_state, length))
              or (t.dim() == 4 and t.shape[0] == batch and t.shape[2:] == (n_state, length) and t.shape[1] >= 1
                  and dim % t.shape[1] == 0))
        if not ok:
            raise _shape_error(arg, f'(batch, N, L) = {(batch, n_state, length)}, (batch, G, N, L) = '
                                    f'({batch}, G, {n_state}, {length}) with G dividing dim = {dim}, '
                                    f'or (dim, N) = {(dim, n_state)}', t)
    for arg in ('D', 'delta_bias'):
        t = tensors[arg]
        if t is not None and t.shape != (dim,):
            raise _shape_error(arg, f'(dim,) = ({dim},)', t)


def selective_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
                   D: Optional[Tensor] = None, z: Optional[Tensor] = None,
                   delta_bias: Optional[Tensor] = None, delta_softplus: bool = False,
                   return_last_state: bool = False, backend: Optional[str] = None
                   ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Selective scan with mamba_ssm's shapes and semantics; see `selective_scan_ref` and `check_inputs`.

    Args:
        backend: a name from `available_backends()`, or None/'auto' for the first that applies and passes its
            self-check (see the module docstring).
    """
    check_inputs(u, delta, A, B, C, D, z, delta_bias)
    fn = _BACKENDS[resolve_backend(u, backend)].fn
    return fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)


register_backend('reference', selective_scan_ref, lambda u: True, priority=100)
