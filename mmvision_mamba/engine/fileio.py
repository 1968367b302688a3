"""Files written whole: a temporary file in the same folder, renamed into place only when complete,
so that a process killed (or a disk filled) while writing leaves the previous file, never a part."""
import os
import os.path as osp
import uuid
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

#: Ends the name of a file that is still being written (`.<final name>.<unique>.partial`).
PARTIAL_SUFFIX = '.partial'


def is_partial_file(name: str) -> bool:
    """Whether the file name is one of :func:`atomic_write`'s temporary files."""
    return name.startswith('.') and name.endswith(PARTIAL_SUFFIX)


def atomic_write(path: Union[str, os.PathLike], data: Union[bytes, str], encoding: str = 'utf-8') -> None:
    """Writes `data` to `path` through a temporary file in the same folder, synced to disk and
    renamed over `path` only when complete; on any error the temporary file is removed.

    Args:
        path: the final file; its folder is created when missing.
        data: bytes, or text to encode with `encoding`.
        encoding: used when `data` is text.
    """
    path = os.fspath(path)
    folder, name = osp.split(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    payload = data.encode(encoding) if isinstance(data, str) else data
    tmp = osp.join(folder, f'.{name}.{uuid.uuid4().hex[:12]}{PARTIAL_SUFFIX}')
    try:
        # 'xb' (not mkstemp) so that the file gets the usual permissions of the umask
        with open(tmp, 'xb') as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    _sync_folder(folder)


def _sync_folder(folder: str) -> None:
    """Makes the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose `put` and `put_text` write whole files
    (:func:`atomic_write`). Select it with `backend_args=dict(backend='atomic_local')`."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, os.PathLike], encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj, encoding=encoding)
