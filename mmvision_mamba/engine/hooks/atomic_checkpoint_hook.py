"""A CheckpointHook whose files are always whole: a run killed at any moment leaves the previous
checkpoint (and `last_checkpoint`) or the new one, never a part of it under a good-looking name."""
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ...fileio import atomic_write, is_local_path, is_partial_file

#: Where mmengine's auto-resume looks for the path of the newest checkpoint (in work_dir).
LAST_CHECKPOINT = 'last_checkpoint'


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's :class:`CheckpointHook` (same arguments) with whole-file writes.

    - Checkpoints of a local `out_dir` go through the `atomic_local` file backend (a temporary
      file renamed into place when complete) unless `backend_args` / `file_client_args` name
      another storage.
    - `work_dir/last_checkpoint` is replaced in one rename, after the checkpoint it names is whole.
    - With `max_keep_ckpts`, the outdated checkpoint is removed after the new one is in place
      (mmengine removes it first, so a kill in between left none).
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
        if not (is_main_process() and isinstance(self.file_backend, LocalBackend) and osp.isdir(self.out_dir)):
            return
        stale = sorted(n for n in os.listdir(self.out_dir) if is_partial_file(n))
        for name in stale:
            os.remove(osp.join(self.out_dir, name))
        if stale:
            runner.logger.warning(f'Removed {len(stale)} incomplete file(s) that an interrupted save left in '
                                  f'{self.out_dir}: {", ".join(stale)}')

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        outdated: Optional[int] = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
            backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, LAST_CHECKPOINT), self.last_ckpt)
        if outdated is not None:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed are folders
                self.file_backend.rmtree(path)


def use_atomic_checkpoints(cfg: Config) -> None:
    """Makes `cfg.default_hooks.checkpoint` an :class:`AtomicCheckpointHook` where it is mmengine's
    plain `CheckpointHook` (its arguments are kept); any other checkpoint hook is left alone."""
    hook = cfg.get('default_hooks', {}).get('checkpoint')
    if hook is None:
        return
    kind = hook.get('type')
    if kind in ('CheckpointHook', 'mmengine.CheckpointHook', CheckpointHook):
        hook.type = 'AtomicCheckpointHook'
