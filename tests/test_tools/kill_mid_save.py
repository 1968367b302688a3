"""Test-only plugin for a training run (`custom_imports`): the file backend `kill_mid_save` writes like
`atomic_local` but SIGKILLs its own process while writing the checkpoint named by $KILL_MID_SAVE,
after the bytes are in the temporary file and before it is synced and renamed into place."""
import os
import os.path as osp
import signal
from unittest import mock

from mmengine.fileio import register_backend

from mmvision_mamba.engine import AtomicLocalBackend


def _kill_self(fd: int) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@register_backend('kill_mid_save')
class KillMidSaveBackend(AtomicLocalBackend):

    def put(self, obj: bytes, filepath: str) -> None:
        if osp.basename(filepath) != os.environ.get('KILL_MID_SAVE'):
            return super().put(obj, filepath)
        with mock.patch('os.fsync', _kill_self):
            super().put(obj, filepath)
