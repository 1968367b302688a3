"""Stops training cleanly on the signal a cluster sends before it ends a job, and requeues the job under Slurm."""
import signal
import threading
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import all_reduce, is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mmvision_mamba.utils.distributed import close_process_group
from mmvision_mamba.utils.slurm import job_requeueable, requeue_job, slurm_job_id
from .resumable_checkpoint_hook import ResumableCheckpointHook

#: Exit status of every training process stopped by a signal after its checkpoint was written (EX_TEMPFAIL:
#: try again, with --resume).
EXIT_PREEMPTED = 75


def _signal(sig: Union[str, int]) -> signal.Signals:
    try:
        return signal.Signals[sig] if isinstance(sig, str) else signal.Signals(sig)
    except (KeyError, ValueError):
        raise ValueError(f'PreemptionHook: unknown signal {sig!r} (give names such as "SIGUSR1" or numbers)') from None


@HOOKS.register_module()
class PreemptionHook(Hook):
    """On one of `signals`, ends training after the current iteration (or the current validation), with a
    checkpoint of that iteration, on every rank at the same iteration.

    The signal handler only records the signal; at each iteration boundary the ranks all-reduce whether any of
    them received one, so all stop together. The checkpoint is written by the :class:`ResumableCheckpointHook`
    (whole, or not at all). Then, under a Slurm job that may be requeued, rank 0 requeues it
    (`scontrol requeue`); every process exits with `exit_code`. Signals after the first change nothing.

    Args:
        signals: Names or numbers of the signals to handle. Defaults to SIGTERM and SIGUSR1.
        requeue: Requeue the Slurm job (when it runs in one that allows it). Defaults to True.
        exit_code: Exit status after the stop. Defaults to :data:`EXIT_PREEMPTED` (75).
    """

    priority = 'LOWEST'  # after the checkpoint hook, which may have saved this iteration already

    def __init__(self, signals: Sequence[Union[str, int]] = ('SIGTERM', 'SIGUSR1'), requeue: bool = True,
                 exit_code: int = EXIT_PREEMPTED) -> None:
        self.signals = [_signal(s) for s in signals]
        self.requeue = requeue
        self.exit_code = exit_code
        self.received: Optional[str] = None
        self.stopped_at: Optional[Tuple[int, int]] = None
        self._checkpointer: Optional[ResumableCheckpointHook] = None
        self._previous: Dict[signal.Signals, object] = {}

    def _on_signal(self, signum: int, frame) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if not getattr(loop, 'stops_within_epoch', False):
            raise TypeError(f'PreemptionHook needs a train loop that can stop within an epoch, such as '
                            f'ResumableEpochBasedTrainLoop or ResumableIterBasedTrainLoop, not {type(loop).__name__}')
        found = [h for h in runner.hooks if isinstance(h, ResumableCheckpointHook)]
        if not found:
            raise TypeError('PreemptionHook needs default_hooks.checkpoint of type ResumableCheckpointHook')
        self._checkpointer = found[0]
        if threading.current_thread() is not threading.main_thread():
            runner.logger.warning('PreemptionHook: not in the main thread, so no signal handlers; it is inactive')
            return
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        runner.logger.info(f'On {", ".join(s.name for s in self.signals)} training stops after the current '
                           'iteration with a checkpoint')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.stopped_at is None and self._stop_agreed():
            self._stop(runner, runner.epoch, runner.iter + 1)

    def after_val_epoch(self, runner, metrics=None) -> None:
        # a validation inside training, at an iteration (or epoch) boundary
        if self._checkpointer is not None and self.stopped_at is None and self._stop_agreed():
            self._stop(runner, runner.epoch, runner.iter)

    def after_train(self, runner) -> None:
        self._checkpointer = None

    def after_run(self, runner) -> None:
        if self.stopped_at is None:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
            self._previous.clear()
            return
        job = slurm_job_id()
        if self.requeue and job is not None and is_main_process():
            if job_requeueable(job):
                problem = requeue_job(job)
                if problem is None:
                    runner.logger.warning(f'Requeued Slurm job {job}; it resumes from the checkpoint')
                else:
                    runner.logger.error(f'Could not requeue Slurm job {job}: {problem}')
            else:
                runner.logger.warning(f'Slurm job {job} may not be requeued (sbatch --requeue)')
        close_process_group()  # the ranks leave together; SystemExit skips the tool's own close
        raise SystemExit(self.exit_code)

    def _stop_agreed(self) -> bool:
        flag = torch.tensor([int(self.received is not None)], dtype=torch.int32)
        all_reduce(flag, op='max')
        return bool(flag.item())

    def _stop(self, runner, epoch: int, iteration: int) -> None:
        self.stopped_at = (epoch, iteration)
        cause = self.received or 'a signal on another rank'
        runner.logger.warning(f'{cause}: stopping after iteration {iteration}, saving a checkpoint')
        path = self._checkpointer.save_now(runner, epoch, iteration)
        runner.train_loop.stop_training = True
        runner.logger.warning(f'Stopped at iteration {iteration}; checkpoint {path}; resume with --resume '
                              f'(exit status {self.exit_code})')
