"""mmengine's local file backend, writing whole files."""
import os
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from ..fileio import atomic_write


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose `put` and `put_text` write whole files
    (:func:`atomic_write`). Select it with `backend_args=dict(backend='atomic_local')`."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, os.PathLike], encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj, encoding=encoding)
