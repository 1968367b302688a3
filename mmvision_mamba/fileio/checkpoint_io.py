"""Safe reading of checkpoint files (torch pickles with weights_only=True, and safetensors) from a
local path or an http(s) URL, with a download cache keyed by the whole URL."""
import argparse
import hashlib
import http.client
import os
import pickle
import socket
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Tuple, Union
from urllib.parse import urlparse

import torch

from .atomic import atomic_open
from .paths import url_scheme

#: The only non-tensor objects the official files hold: timm's `.pth.tar` keep the training
#: command line as an argparse.Namespace beside the weights.
CHECKPOINT_SAFE_GLOBALS: List[Any] = [argparse.Namespace]

#: Seconds that a connection or a single read may stall before a download is abandoned.
DEFAULT_DOWNLOAD_TIMEOUT = 60.
DOWNLOAD_TIMEOUT_ENV = 'MMVM_DOWNLOAD_TIMEOUT'

#: mmengine model-zoo names: they point at other networks (ResNet, ...), never at MambaVision.
_MODEL_ZOO_SCHEMES = ('open-mmlab', 'openmmlab', 'torchvision', 'mmcls', 'mmpretrain', 'modelzoo', 'pavi')
_LOCAL_PATH_HELP = ("To use a file you have downloaded elsewhere, give its local path: "
                    "init_cfg=dict(type='Pretrained', checkpoint='/path/to/file').")

#: torch.save's legacy (non-zip) files open with its magic number, pickled with protocol 2.
_LEGACY_TORCH_MAGIC = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)

_HISTORY_BUFFER_STATISTICS = {'min', 'max', 'current', 'mean'}


class CheckpointDownloadError(OSError):
    """A checkpoint URL could not be downloaded (unreachable, stalled, HTTP error, cut off)."""


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


# ----------------------------------------------------------------------------------------------
# Downloads


def download_timeout() -> float:
    """The connect / read timeout in seconds: $MMVM_DOWNLOAD_TIMEOUT, else 60."""
    value = os.environ.get(DOWNLOAD_TIMEOUT_ENV)
    if value is None or value == '':
        return DEFAULT_DOWNLOAD_TIMEOUT
    try:
        timeout = float(value)
    except ValueError:
        timeout = -1.
    if not timeout > 0:
        raise ValueError(f'{DOWNLOAD_TIMEOUT_ENV}={value!r}: give a positive number of seconds.')
    return timeout


def cached_path_for_url(url: str) -> str:
    """`<torch hub dir>/checkpoints/<file name>-<hash of the whole URL>.<ext>`.

    Two URLs that end in the same file name (every Hugging Face repository names its weights
    `model.safetensors`) get different cache files.
    """
    name = os.path.basename(urlparse(url).path) or 'checkpoint'
    digest = hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]
    stem, dot, ext = name.partition('.')
    return os.path.join(torch.hub.get_dir(), 'checkpoints', f'{stem}-{digest}{dot}{ext}')


def download_checkpoint(url: str, dst: str, timeout: Optional[float] = None, progress: bool = True) -> None:
    """Downloads `url` to `dst` through a temporary file in the same folder, renamed only when the
    whole body (Content-Length, when the server sends it) has arrived.

    Args:
        url: http(s) URL.
        dst: final path; never exists in a partial state.
        timeout: seconds that the connection or any single read may stall; default
            :func:`download_timeout`.
        progress: show a tqdm progress bar (when tqdm is installed and stderr is a terminal).

    Raises:
        CheckpointDownloadError: unreachable, stalled, HTTP error or cut-off download; nothing
            is left in the cache.
    """
    timeout = download_timeout() if timeout is None else timeout
    with atomic_open(dst) as f:
        received, expected = _fetch(url, f, timeout, progress)
        if expected is not None and received != expected:
            raise CheckpointDownloadError(
                f'Download of {url} was cut off: {received} of {expected} bytes arrived. Nothing was '
                'cached; try again. ' + _LOCAL_PATH_HELP)


def _fetch(url: str, f, timeout: float, progress: bool) -> Tuple[int, Optional[int]]:
    """Streams the body of `url` into `f`; returns (bytes received, Content-Length or None)."""
    request = urllib.request.Request(url, headers={'User-Agent': 'mmvision_mamba'})
    received, expected = 0, None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get('Content-Length')
            expected = int(length) if length and length.isdigit() else None
            bar = _progress_bar(expected, url) if progress else None
            try:
                while True:
                    chunk = response.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
    except urllib.error.HTTPError as e:
        hint = ' (the file may be private or gated: log in, or download it and give its path)' \
            if e.code in (401, 403) else ''
        raise CheckpointDownloadError(
            f'Could not download {url}: the server answered HTTP {e.code} {e.reason}{hint}. '
            + _LOCAL_PATH_HELP) from e
    except http.client.IncompleteRead as e:
        raise CheckpointDownloadError(
            f'Download of {url} was cut off after {received + len(e.partial)} bytes. Nothing was '
            'cached; try again. ' + _LOCAL_PATH_HELP) from e
    except (socket.timeout, TimeoutError) as e:
        raise _stalled(url, timeout) from e
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, 'reason', e)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise _stalled(url, timeout) from e
        if received:
            raise CheckpointDownloadError(
                f'Download of {url} was cut off after {received} bytes ({reason}). Nothing was cached; '
                'try again. ' + _LOCAL_PATH_HELP) from e
        raise CheckpointDownloadError(
            f'Could not download {url} ({reason}). Are you offline, or is the address wrong? '
            + _LOCAL_PATH_HELP) from e
    return received, expected


def _stalled(url: str, timeout: float) -> CheckpointDownloadError:
    return CheckpointDownloadError(
        f'Download of {url} stalled: no answer within {timeout:g} s. Nothing was cached. Try again, '
        f'raise the limit with {DOWNLOAD_TIMEOUT_ENV}=SECONDS, or download the file elsewhere. '
        + _LOCAL_PATH_HELP)


def _progress_bar(total: Optional[int], url: str):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024, disable=None,
                desc=os.path.basename(urlparse(url).path))


# ----------------------------------------------------------------------------------------------
# Paths


def _as_path(checkpoint: Any) -> str:
    if isinstance(checkpoint, (str, os.PathLike)):
        path = os.fspath(checkpoint)
        if isinstance(path, str):
            return path
    raise TypeError(
        f'checkpoint must be a path (str or os.PathLike) or an http(s) URL, got '
        f'{type(checkpoint).__name__}: {checkpoint!r}. In a config: '
        "init_cfg=dict(type='Pretrained', checkpoint='path/or/url').")


def _is_url(path: str) -> bool:
    return url_scheme(path) in ('http', 'https')


def resolve_checkpoint_path(checkpoint: Union[str, os.PathLike]) -> str:
    """Returns a local file for `checkpoint`; http(s) URLs are downloaded once into
    `<torch hub dir>/checkpoints` (see :func:`cached_path_for_url`)."""
    path = _as_path(checkpoint)
    scheme = url_scheme(path)
    if scheme in ('http', 'https'):
        cache = cached_path_for_url(path)
        if not os.path.isfile(cache):
            from mmengine.logging import print_log
            print_log(f'Downloading {path} to {cache}', logger='current')
            download_checkpoint(path, cache)
        return cache
    if scheme in _MODEL_ZOO_SCHEMES:
        raise ValueError(
            f'{path!r} names a checkpoint of the mmengine/torchvision model zoo (another network, such '
            'as a ResNet), not MambaVision weights. If it comes from a base config\'s '
            "`model.pretrained` (mmseg's EncoderDecoder hands it to the backbone), set "
            'model.pretrained=None; to start from MambaVision weights, give the backbone '
            "init_cfg=dict(type='Pretrained', checkpoint=PATH_OR_URL) with an official MambaVision "
            'checkpoint (.pth.tar, model.safetensors or an mmdet/mmseg .pth).')
    if scheme == 'file':
        path = urllib.request.url2pathname(urlparse(path).path)
    elif scheme is not None:
        raise ValueError(f'{path!r}: the {scheme}:// scheme is not supported; give a local path or an '
                         'http(s) URL.')
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'Checkpoint not found: {path!r}. Give a local file or an http(s) URL '
                                'of an official MambaVision checkpoint (.pth.tar, .safetensors or .pth).')
    return path


# ----------------------------------------------------------------------------------------------
# Formats


def sniff_format(path: str) -> str:
    """'torch-zip', 'pickle' (torch's legacy format), 'safetensors', or a description of what the file is instead
    ('an empty file', 'an HTML page', 'a text file', 'a zip archive', ...), from its first bytes."""
    with open(path, 'rb') as f:
        head = f.read(512)
    if not head:
        return 'an empty file'
    if head[:4] == b'PK\x03\x04':
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            return 'torch-zip'  # a cut-off torch file: torch.load names it corrupt
        if any(n.endswith('/data.pkl') or n == 'data.pkl' for n in names):
            return 'torch-zip'
        return f'a zip archive that is not a torch checkpoint (it holds {names[:3]})'
    if head.startswith(_LEGACY_TORCH_MAGIC):
        return 'pickle'
    if head[:1] == b'\x80':
        return 'a plain pickle, not a file written by torch.save'
    if len(head) >= 9 and head[8:9] == b'{' and head[4:8] == bytes(4):
        return 'safetensors'  # an 8-byte little-endian header length (< 4 GiB), then the JSON header
    if head[:2] == b'\x1f\x8b':
        return 'a gzip archive'
    if head[:4] == b'\x89HDF':
        return 'an HDF5 file (Keras/TensorFlow weights?)'
    if head.lstrip(b'\xef\xbb\xbf \t\r\n').startswith(b'<'):
        return 'an HTML/XML page'
    if b'\x00' not in head:
        try:
            head.decode('utf-8')
            return 'a text file'
        except UnicodeDecodeError as e:
            if e.start >= len(head) - 3:  # a character cut by the 512-byte read
                return 'a text file'
    return f'no known checkpoint format (first bytes {head[:8]!r})'


def _not_a_checkpoint(path: str, what: str) -> str:
    hint = (" A Hugging Face '/blob/' URL gives the web page: use '/resolve/' instead."
            if 'HTML' in what else '')
    return (f'{path!r} is not a checkpoint: it is {what}. Give a torch checkpoint (.pth, .pth.tar) '
            f'or a safetensors file.{hint}')


def _read(path: str) -> Dict[str, Any]:
    kind = sniff_format(path)
    if kind == 'safetensors':
        try:
            from safetensors.torch import load_file
        except ImportError as e:
            raise ImportError(f'{path!r} is a safetensors file, and safetensors (a requirement of mmvision_mamba) '
                              'is not installed: pip install safetensors') from e
        try:
            return load_file(path, device='cpu')
        except Exception as e:  # safetensors raises its own error type
            raise ValueError(f'Checkpoint {path!r} is corrupt or truncated ({e}).') from e
    if kind not in ('torch-zip', 'pickle'):
        raise ValueError(_not_a_checkpoint(path, kind))
    try:
        with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
            obj = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(
            f'Checkpoint {path!r} holds Python objects outside the allow-list of safe types, so it '
            f'was not loaded (weights_only=True). Official MambaVision files load as they are; '
            f'for a file you trust, save just its tensors: torch.save(ckpt["state_dict"], new_path). '
            f'Details: {e}') from e
    except (RuntimeError, EOFError) as e:
        if 'magic number' in str(e).lower():
            raise ValueError(_not_a_checkpoint(path, 'a plain pickle, not a file written by torch.save')) from e
        raise ValueError(f'Checkpoint {path!r} is corrupt or truncated ({e}).') from e
    if not isinstance(obj, Mapping):
        raise ValueError(_not_a_checkpoint(
            path, f'a torch file holding a {type(obj).__name__}, where a state dict (or a dict with '
                  "'state_dict') was expected"))
    return obj


def load_checkpoint_file(checkpoint: Union[str, os.PathLike]) -> Dict[str, Any]:
    """Reads a checkpoint safely (no arbitrary unpickling).

    Args:
        checkpoint: local file or http(s) URL; torch pickle (`.pth.tar`, `.pth`) or safetensors.

    Returns:
        The object stored in the file (a dict; safetensors give a flat name -> tensor dict).

    Raises:
        TypeError: `checkpoint` is no str / os.PathLike.
        FileNotFoundError: no such local file.
        CheckpointDownloadError: the URL could not be downloaded.
        ValueError: the file is no checkpoint, is corrupt, or holds unsafe objects. A corrupt
            download is removed from the cache, so that the next run fetches it again.
    """
    path = resolve_checkpoint_path(checkpoint)
    source = _as_path(checkpoint)
    if not _is_url(source):
        return _read(path)
    try:
        return _read(path)
    except ValueError as e:
        if 'allow-list' in str(e):  # complete and intact, only unsafe: a new download is no better
            raise ValueError(f'{e} (downloaded from {source}, cached at {path!r})') from e
        os.remove(path)
        raise ValueError(f'The download of {source} is unusable and was removed from the cache '
                         f'({path!r}); the next run downloads it again. {e}') from e
