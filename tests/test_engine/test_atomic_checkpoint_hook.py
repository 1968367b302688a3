"""Whole-file writes: atomic_write, the `atomic_local` file backend and AtomicCheckpointHook."""
import errno
import os
import os.path as osp
from unittest import mock

import pytest
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.testing import RunnerTestCase

from mmvision_mamba.engine import AtomicCheckpointHook, AtomicLocalBackend, checkpoint_problem, use_atomic_checkpoints
from mmvision_mamba.engine.hooks.atomic_checkpoint_hook import DeferredRemovalBackend
from mmvision_mamba.fileio import atomic_write

_real_replace = os.replace


def disk_full_for(name: str):
    """An os.replace that fails, as a full disk would, when it would put `name` in place."""
    def replace(src, dst):
        if osp.basename(dst) == name:
            raise OSError(errno.ENOSPC, 'No space left on device')
        return _real_replace(src, dst)
    return replace


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path) -> None:
    path = tmp_path / 'epoch_1.pth'
    atomic_write(path, b'old')
    with mock.patch('os.fsync', side_effect=OSError(errno.ENOSPC, 'No space left on device')):
        with pytest.raises(OSError, match='No space left'):
            atomic_write(path, b'new' * 1000)
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['epoch_1.pth']
    atomic_write(tmp_path / 'sub' / 'last_checkpoint', 'épreuve')
    assert (tmp_path / 'sub' / 'last_checkpoint').read_text(encoding='utf-8') == 'épreuve'


def test_atomic_local_backend(tmp_path) -> None:
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend='atomic_local'))
    assert isinstance(backend, AtomicLocalBackend)
    backend.put(b'abc', str(tmp_path / 'a.pth'))
    backend.put_text('xyz', str(tmp_path / 'b.txt'))
    assert backend.get(str(tmp_path / 'a.pth')) == b'abc' and backend.get_text(str(tmp_path / 'b.txt')) == 'xyz'


def test_backend_args_default() -> None:
    assert AtomicCheckpointHook(interval=1).backend_args == dict(backend='atomic_local')
    assert AtomicCheckpointHook(interval=1, out_dir='s3://bucket/runs').backend_args is None
    given = dict(backend='petrel')
    assert AtomicCheckpointHook(interval=1, backend_args=given).backend_args == given


def test_deferred_removals(tmp_path) -> None:
    backend = DeferredRemovalBackend(get_file_backend(str(tmp_path), backend_args=dict(backend='atomic_local')))
    for name in ('a.pth', 'b.pth', 'c.pth'):
        backend.put(b'x', str(tmp_path / name))
    (tmp_path / 'folder').mkdir()
    backend.remove(str(tmp_path / 'a.pth'))
    backend.remove(str(tmp_path / 'b.pth'))
    backend.rmtree(str(tmp_path / 'folder'))
    assert sorted(os.listdir(tmp_path)) == ['a.pth', 'b.pth', 'c.pth', 'folder']
    assert backend.isfile(str(tmp_path / 'a.pth'))  # the rest goes to the wrapped backend
    backend.flush(keep=(str(tmp_path / 'b.pth'), ))
    assert sorted(os.listdir(tmp_path)) == ['b.pth', 'c.pth'] and not backend.pending


def test_use_atomic_checkpoints() -> None:
    cfg = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3, max_keep_ckpts=2))))
    use_atomic_checkpoints(cfg)
    assert cfg.default_hooks.checkpoint == dict(type='AtomicCheckpointHook', interval=3, max_keep_ckpts=2)
    own = Config(dict(default_hooks=dict(checkpoint=dict(type='MyCheckpointHook'))))
    use_atomic_checkpoints(own)
    assert own.default_hooks.checkpoint.type == 'MyCheckpointHook'
    use_atomic_checkpoints(Config(dict()))


class TestAtomicCheckpointHookInARun(RunnerTestCase):

    def run_with(self, max_keep_ckpts: int, max_iters: int = 3):
        cfg = self.iter_based_cfg
        cfg.train_cfg.max_iters = max_iters
        cfg.default_hooks.checkpoint = dict(type='AtomicCheckpointHook', interval=1, by_epoch=False,
                                            max_keep_ckpts=max_keep_ckpts)
        runner = self.build_runner(cfg)
        runner.train()
        return runner

    def files(self) -> list:
        return sorted(os.listdir(self.temp_dir.name))

    def pointer(self) -> str:
        with open(osp.join(self.temp_dir.name, 'last_checkpoint')) as f:
            return f.read()

    def test_whole_checkpoints_and_stale_partials_removed(self) -> None:
        stale = osp.join(self.temp_dir.name, '.iter_7.pth.0123abcd.partial')
        open(stale, 'wb').close()
        runner = self.run_with(max_keep_ckpts=2)
        hook = next(h for h in runner.hooks if isinstance(h, AtomicCheckpointHook))
        assert isinstance(hook.file_backend, DeferredRemovalBackend)
        assert isinstance(hook.file_backend.backend, AtomicLocalBackend) and not hook.file_backend.pending
        assert [n for n in self.files() if n.endswith(('.pth', '.partial'))] == ['iter_2.pth', 'iter_3.pth']
        assert self.pointer() == osp.join(self.temp_dir.name, 'iter_3.pth')
        assert checkpoint_problem(self.pointer()) is None

    def test_failed_save_leaves_the_previous_checkpoint(self) -> None:
        with mock.patch('os.replace', disk_full_for('iter_2.pth')):
            with pytest.raises(OSError, match='No space left'):
                self.run_with(max_keep_ckpts=1)
        # mmengine's CheckpointHook removes iter_1.pth before writing iter_2.pth: none would be left
        assert [n for n in self.files() if n.endswith(('.pth', '.partial'))] == ['iter_1.pth']
        assert self.pointer() == osp.join(self.temp_dir.name, 'iter_1.pth')
