"""An AtomicCheckpointHook whose checkpoints let training continue exactly where they were taken."""
import os.path as osp
from typing import Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.registry import HOOKS

from ...fileio import atomic_write
from ..runner.training_state import record_training_state
from .atomic_checkpoint_hook import LAST_CHECKPOINT, AtomicCheckpointHook


@HOOKS.register_module()
class ResumableCheckpointHook(AtomicCheckpointHook):
    """:class:`AtomicCheckpointHook` (same arguments) that also saves the RNG state of every rank, and that can
    save at any iteration (:meth:`save_now`, for :class:`PreemptionHook`).

    With the resumable train loops, `--resume` from its checkpoints continues at the next iteration, in the
    middle of an epoch too, as if training had not stopped.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._saved_at: Optional[Tuple[int, int]] = None

    # Every rank must take part in gathering the RNG states, and mmengine saves on rank 0 alone (Runner.save_checkpoint
    # is master_only, and so is its before_save_checkpoint call): CheckpointHook's _save_checkpoint_with_step is the
    # one place all ranks pass before a save. tests/test_engine/test_mmengine_versions.py runs this against the
    # oldest and newest mmengine setup.py allows; a release without it fails here at import, not silently.
    if not hasattr(AtomicCheckpointHook, '_save_checkpoint_with_step'):
        raise ImportError('mmvision_mamba: this mmengine has no CheckpointHook._save_checkpoint_with_step, which '
                          'ResumableCheckpointHook extends; install an mmengine that setup.py allows.')

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        record_training_state(runner, meta['epoch'], meta['iter'])
        super()._save_checkpoint_with_step(runner, step, meta)
        self._saved_at = (meta['epoch'], meta['iter'])

    def save_now(self, runner, epoch: int, iteration: int) -> str:
        """Saves the state after `iteration` iterations (`epoch` whole epochs) unless the last save was of it;
        every rank calls it. Returns the path of the checkpoint of that state.

        Iteration-based: a regular `iter_N.pth`. Epoch-based: `iter_N.pth` beside the epoch checkpoints, which
        `max_keep_ckpts` does not count.
        """
        if self._saved_at == (epoch, iteration):
            return self.last_ckpt
        meta = dict(epoch=epoch, iter=iteration)
        if not self.by_epoch:
            self._save_checkpoint_with_step(runner, iteration, meta)
            return self.last_ckpt
        record_training_state(runner, epoch, iteration)
        filename = f'iter_{iteration}.pth'
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, filename, self.file_client_args, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
            backend_args=self.backend_args, **self.args)
        if is_main_process():
            atomic_write(osp.join(runner.work_dir, LAST_CHECKPOINT), self.last_ckpt)
        self._saved_at = (epoch, iteration)
        return self.last_ckpt
