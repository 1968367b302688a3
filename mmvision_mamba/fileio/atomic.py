"""Files written whole: a temporary file in the same folder, renamed into place only when complete,
so that a process killed (or a disk filled) while writing leaves the previous file, never a part."""
import contextlib
import os
import os.path as osp
import uuid
from typing import BinaryIO, Iterator, Union

#: Ends the name of a file that is still being written (`.<final name>.<unique>.partial`).
PARTIAL_SUFFIX = '.partial'


def is_partial_file(name: str) -> bool:
    """Whether the file name is one of :func:`atomic_open`'s temporary files."""
    return name.startswith('.') and name.endswith(PARTIAL_SUFFIX)


@contextlib.contextmanager
def atomic_open(path: Union[str, os.PathLike]) -> Iterator[BinaryIO]:
    """A binary file to write `path` with: a temporary file in the same folder, synced to disk and
    renamed over `path` when the block ends without an error; on any error it is removed and `path`
    keeps what it had.

    Args:
        path: the final file; its folder is created when missing.
    """
    folder, name = osp.split(osp.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{name}.{uuid.uuid4().hex[:12]}{PARTIAL_SUFFIX}')
    try:
        # 'xb' (not mkstemp) so that the file gets the usual permissions of the umask
        with open(tmp, 'xb') as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, osp.join(folder, name))
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    _sync_folder(folder)


def atomic_write(path: Union[str, os.PathLike], data: Union[bytes, str], encoding: str = 'utf-8') -> None:
    """Writes `data` to `path` whole (:func:`atomic_open`).

    Args:
        path: the final file; its folder is created when missing.
        data: bytes, or text to encode with `encoding`.
        encoding: used when `data` is text.
    """
    with atomic_open(path) as f:
        f.write(data.encode(encoding) if isinstance(data, str) else data)


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
