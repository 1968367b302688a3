"""The one dispatch point of the selective scan."""
import os
from typing import Callable, Dict, List, Optional, Tuple, Union

from torch import Tensor

from .selective_scan_ref import selective_scan_ref

ScanFn = Callable[..., Union[Tensor, Tuple[Tensor, Tensor]]]

#: name -> (scan function, predicate telling whether it can run on the given input)
_BACKENDS: Dict[str, Tuple[ScanFn, Callable[[Tensor], bool]]] = {}
#: order in which `backend='auto'` tries them
_PRIORITY: List[str] = []


def register_backend(name: str, fn: ScanFn, supports: Callable[[Tensor], bool],
                     priority: Optional[int] = None) -> None:
    """Adds a scan backend; `priority` is its place in the 'auto' order (default: last)."""
    _BACKENDS[name] = (fn, supports)
    if name in _PRIORITY:
        _PRIORITY.remove(name)
    _PRIORITY.insert(len(_PRIORITY) if priority is None else priority, name)


def available_backends(u: Optional[Tensor] = None) -> List[str]:
    """Backends in 'auto' order; with `u`, only those that can run on it."""
    return [n for n in _PRIORITY if u is None or _BACKENDS[n][1](u)]


def resolve_backend(u: Tensor, backend: Optional[str] = None) -> str:
    """Picks the backend: the argument, else $MMVM_SCAN_BACKEND, else the first that supports `u`."""
    name = backend or os.environ.get('MMVM_SCAN_BACKEND', 'auto')
    if name == 'auto':
        return available_backends(u)[0]
    if name not in _BACKENDS:
        raise ValueError(f'Unknown selective-scan backend {name!r}; '
                         f'choose "auto" or one of {sorted(_BACKENDS)}.')
    if not _BACKENDS[name][1](u):
        raise RuntimeError(f'Selective-scan backend {name!r} cannot run on a {u.dtype} tensor on '
                           f'{u.device}; available here: {available_backends(u)}.')
    return name


def selective_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
                   D: Optional[Tensor] = None, z: Optional[Tensor] = None,
                   delta_bias: Optional[Tensor] = None, delta_softplus: bool = False,
                   return_last_state: bool = False, backend: Optional[str] = None
                   ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Selective scan with mamba_ssm's shapes and semantics; see `selective_scan_ref`.

    Args:
        backend: a name from `available_backends()`, or None/'auto' for the fastest that applies.
    """
    fn = _BACKENDS[resolve_backend(u, backend)][0]
    return fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)


register_backend('reference', selective_scan_ref, lambda u: True)
