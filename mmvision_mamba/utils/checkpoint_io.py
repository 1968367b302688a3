"""Safe reading of checkpoint files: torch pickles with weights_only=True, and safetensors."""
import argparse
import os
import pickle
from typing import Any, Dict, List, Tuple, Union
from urllib.parse import urlparse

import torch

#: The only non-tensor objects the official files hold: timm's `.pth.tar` keep the training
#: command line as an argparse.Namespace beside the weights.
CHECKPOINT_SAFE_GLOBALS: List[Any] = [argparse.Namespace]


_HISTORY_BUFFER_STATISTICS = {'min', 'max', 'current', 'mean'}


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stands in for `builtins.getattr` while unpickling: mmengine's HistoryBuffer pickles its
    statistics methods as getattr(HistoryBuffer, 'min'), and nothing else may be looked up."""
    from mmengine.logging import HistoryBuffer

    allowed = _HISTORY_BUFFER_STATISTICS | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and isinstance(name, str) and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint.')


def _mmengine_safe_globals() -> List[Union[Any, Tuple[Any, str]]]:
    """Types that mmengine's own checkpoints pickle in `meta` / `message_hub`: its HistoryBuffer
    (with a getattr restricted to its statistics methods) and numpy arrays and scalars (under
    both numpy 1 and numpy 2 module names)."""
    import numpy as np
    from mmengine.logging import HistoryBuffer

    core = getattr(np, '_core', None) or np.core
    found = [HistoryBuffer, np.ndarray, np.dtype, (_history_buffer_getattr, 'builtins.getattr')]
    for name in ('_reconstruct', 'scalar'):
        fn = getattr(core.multiarray, name)
        found += [(fn, f'numpy.core.multiarray.{name}'), (fn, f'numpy._core.multiarray.{name}')]
    found += [type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64, np.int32,
                                          np.int8, np.uint8, np.bool_)]
    return found


def register_safe_globals() -> None:
    """Allow-lists, for every weights_only torch.load of this process, exactly the types that
    official MambaVision files and mmengine 0.10's own checkpoints need (nothing executable)."""
    torch.serialization.add_safe_globals(CHECKPOINT_SAFE_GLOBALS + _mmengine_safe_globals())


def _is_safetensors(path: str) -> bool:
    with open(path, 'rb') as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b'{'


def resolve_checkpoint_path(path: str) -> str:
    """Returns a local file for `path`; http(s) URLs are downloaded once into torch's hub cache."""
    if urlparse(path).scheme in ('http', 'https'):
        cache = os.path.join(torch.hub.get_dir(), 'checkpoints', os.path.basename(urlparse(path).path))
        if not os.path.isfile(cache):
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            torch.hub.download_url_to_file(path, cache)
        return cache
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'Checkpoint not found: {path!r}. Give a local file or an http(s) URL '
                                'of an official MambaVision checkpoint (.pth.tar, .safetensors or .pth).')
    return path


def load_checkpoint_file(path: str) -> Dict[str, Any]:
    """Reads a checkpoint safely (no arbitrary unpickling).

    Args:
        path: local file or http(s) URL; torch pickle (`.pth.tar`, `.pth`) or safetensors.

    Returns:
        The object stored in the file (a dict; safetensors give a flat name -> tensor dict).
    """
    path = resolve_checkpoint_path(path)
    if _is_safetensors(path):
        try:
            from safetensors.torch import load_file
        except ImportError as e:
            raise ImportError(f'{path!r} is a safetensors file: pip install safetensors') from e
        try:
            return load_file(path, device='cpu')
        except Exception as e:  # noqa: BLE001 - safetensors raises its own error type
            raise ValueError(f'Checkpoint {path!r} is corrupt or truncated ({e}); download it again.') from e
    try:
        with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(
            f'Checkpoint {path!r} holds Python objects outside the allow-list of safe types, so it '
            f'was not loaded (weights_only=True). Official MambaVision files load as they are; '
            f'for a file you trust, save just its tensors: torch.save(ckpt["state_dict"], new_path). '
            f'Details: {e}') from e
    except (RuntimeError, EOFError) as e:
        raise ValueError(f'Checkpoint {path!r} is corrupt or truncated ({e}); download it again.') from e
