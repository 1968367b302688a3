"""A CheckpointHook whose files are always whole: a run killed at any moment leaves the previous
checkpoint or the new one, never a part of it under a good-looking name, and never neither.

Built on mmengine's public surface only (the hook's arguments, its public hook methods and attributes, the
file backend interface), so that an mmengine release that rewrites `CheckpointHook`'s private methods keeps it
working: the checkpoints go through the `atomic_local` backend, and the hook's file backend is wrapped so that
the removal of an outdated checkpoint waits until the hook step that saves the new one has finished.
"""
import contextlib
import os
import os.path as osp
from typing import Any, Iterator, List, Optional, Set, Tuple

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ...fileio import is_local_path, is_partial_file
from ...utils.config_type import type_name

#: Where mmengine's auto-resume looks for the path of the newest checkpoint (in work_dir).
LAST_CHECKPOINT = 'last_checkpoint'


class DeferredRemovalBackend:
    """A file backend (mmengine's `BaseStorageBackend` or `FileClient`) whose `remove` and `rmtree` only note the
    path; :meth:`flush` carries them out. Everything else goes to the wrapped backend.

    Args:
        backend: the backend to wrap.
    """

    def __init__(self, backend: Any):
        self.backend = backend
        self.pending: List[Tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        if name == 'backend':  # not set yet (copy, unpickling)
            raise AttributeError(name)
        return getattr(self.backend, name)

    def remove(self, filepath: str) -> None:
        self.pending.append(('remove', str(filepath)))

    def rmtree(self, dir_path: str) -> None:
        self.pending.append(('rmtree', str(dir_path)))

    def flush(self, keep: Tuple[str, ...] = ()) -> None:
        """Removes the noted paths, except those in `keep` (a path saved again after its removal was noted)."""
        pending, self.pending = self.pending, []
        for method, path in pending:
            if path not in keep and self.backend.exists(path):
                getattr(self.backend, method)(path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's :class:`CheckpointHook` (same arguments) with whole-file writes.

    - Checkpoints of a local `out_dir` go through the `atomic_local` file backend (a temporary
      file renamed into place when complete) unless `backend_args` / `file_client_args` name
      another storage.
    - Outdated checkpoints (`max_keep_ckpts`, the previous `best_*`) are removed only after the hook step that
      saves the new one has finished and the checkpoints the hook names (`last_ckpt`, the best ones) exist
      (mmengine removes them first, so a kill or a full disk in between left none).
    - `work_dir/last_checkpoint` is written by mmengine after the checkpoint it names is whole.
    - Temporary files of an interrupted save are removed before training starts.
    """

    def __init__(self, **kwargs) -> None:
        out_dir = kwargs.get('out_dir')
        local = out_dir is None or is_local_path(str(out_dir))
        if local and kwargs.get('backend_args') is None and kwargs.get('file_client_args') is None:
            kwargs['backend_args'] = dict(backend='atomic_local')
        super().__init__(**kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        local = isinstance(self.file_backend, LocalBackend)
        self.file_backend = DeferredRemovalBackend(self.file_backend)
        if not (is_main_process() and local and osp.isdir(self.out_dir)):
            return
        stale = sorted(n for n in os.listdir(self.out_dir) if is_partial_file(n))
        for name in stale:
            os.remove(osp.join(self.out_dir, name))
        if stale:
            runner.logger.warning(f'Removed {len(stale)} incomplete file(s) that an interrupted save left in '
                                  f'{self.out_dir}: {", ".join(stale)}')

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Optional[dict] = None) -> None:
        with self._removals_after_saving():
            super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def after_train_epoch(self, runner) -> None:
        with self._removals_after_saving():
            super().after_train_epoch(runner)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        with self._removals_after_saving():
            super().after_val_epoch(runner, metrics)

    def after_train(self, runner) -> None:
        with self._removals_after_saving():
            super().after_train(runner)

    def _named_checkpoints(self) -> Set[str]:
        """The checkpoints the hook points at: the newest and the best ones."""
        named = [self.last_ckpt, getattr(self, 'best_ckpt_path', None)]
        named += list((getattr(self, 'best_ckpt_path_dict', None) or {}).values())
        return {str(p) for p in named if p}

    @contextlib.contextmanager
    def _removals_after_saving(self) -> Iterator[None]:
        """Carries out the removals that the block noted once it has finished without an error and the checkpoints
        it named anew exist; a checkpoint the hook names is never removed."""
        before = self._named_checkpoints()
        yield
        backend = self.file_backend
        if not isinstance(backend, DeferredRemovalBackend) or not backend.pending:
            return
        named = self._named_checkpoints()
        if all(backend.exists(path) for path in named - before):
            backend.flush(keep=tuple(named))


def use_atomic_checkpoints(cfg: Config) -> None:
    """Makes `cfg.default_hooks.checkpoint` an :class:`AtomicCheckpointHook` where it is mmengine's
    plain `CheckpointHook` (its arguments are kept); any other checkpoint hook is left alone."""
    hook = cfg.get('default_hooks', {}).get('checkpoint')
    if hook is None:
        return
    if type_name(hook) == 'CheckpointHook':
        hook.type = 'AtomicCheckpointHook'
