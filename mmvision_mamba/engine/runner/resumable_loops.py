"""Training loops that stop within an epoch and resume exactly where they stopped.

They are mmengine's `EpochBasedTrainLoop` / `IterBasedTrainLoop` with two changes:

- Resumed from a checkpoint of :class:`ResumableCheckpointHook`, the next iteration is the one after the
  checkpoint: the batch sampler (a :class:`ResumableBatchSampler`) leaves out the batches already trained without
  loading them, and every rank's RNG state is put back. A plain mmengine checkpoint resumes as mmengine does.
- `stop_training` set during an iteration (by :class:`PreemptionHook`) ends the run after that iteration; the
  epoch-based loop then skips its end-of-epoch hooks and validation (the epoch is not over).
"""
import logging
from typing import Optional

from mmengine.dataset import InfiniteSampler
from mmengine.logging import print_log
from mmengine.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator

from ..samplers import ResumableBatchSampler
from .rng_state import set_rng_state
from .training_state import resumed_training_state


def _resumable_batch_sampler(loop) -> Optional[ResumableBatchSampler]:
    batch_sampler = getattr(loop.dataloader, 'batch_sampler', None)
    return batch_sampler if isinstance(batch_sampler, ResumableBatchSampler) else None


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """mmengine's `EpochBasedTrainLoop` (same arguments) that stops and resumes within an epoch."""

    #: Read by :class:`PreemptionHook`: `stop_training` takes effect after the current iteration.
    stops_within_epoch = True

    def run(self):
        """Launches training."""
        self.runner.call_hook('before_train')
        skip, rng = self._resume_point()
        while self._epoch < self._max_epochs and not self.stop_training:
            if not self._run_epoch(skip, rng):
                break
            skip, rng = 0, None
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._epoch >= self.val_begin
                    and (self._epoch % self.val_interval == 0 or self._epoch == self._max_epochs)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_epoch(self) -> None:
        """Iterates one whole epoch (mmengine's interface)."""
        self._run_epoch(0, None)

    def _run_epoch(self, skip: int, rng: Optional[dict]) -> bool:
        """Iterates the epoch from its batch `skip` on; False where `stop_training` ended it early."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        # the states were taken where the next draw is that of the next batch: an epoch's start draws a loader seed
        if rng is not None and skip == 0:
            set_rng_state(rng)
        if skip:
            _resumable_batch_sampler(self).skip_batches(skip)
        batches = iter(self.dataloader)
        if rng is not None and skip:
            set_rng_state(rng)
        for idx, data_batch in enumerate(batches, start=skip):
            self.run_iter(idx, data_batch)
            if self.stop_training:
                return False
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
        return True

    def _resume_point(self):
        """(batches of the current epoch to leave out, this rank's RNG state) for a resumed run."""
        state = resumed_training_state(self.runner, self._epoch, self._iter)
        if state is None:
            return 0, None
        done = self._iter - self._epoch * len(self.dataloader)
        if not 0 <= done <= len(self.dataloader):
            print_log(f'Cannot place iteration {self._iter} in epoch {self._epoch + 1} of {len(self.dataloader)} '
                      'batches (was the data set or batch size changed?): the epoch starts from its first batch.',
                      logger='current', level=logging.WARNING)
            return 0, None
        if done and _resumable_batch_sampler(self) is None:
            print_log('The train dataloader has no ResumableBatchSampler: the epoch starts from its first batch.',
                      logger='current', level=logging.WARNING)
            return 0, None
        if done:
            print_log(f'Continuing epoch {self._epoch + 1} at batch {done + 1} of {len(self.dataloader)} (the '
                      f'first {done} are passed over without loading them)', logger='current')
        return done, state['rng']


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """mmengine's `IterBasedTrainLoop` (same arguments) whose resume passes over the trained batches without
    loading them (with an `InfiniteSampler` in a :class:`ResumableBatchSampler`) and restores the RNG states.

    A stop requested during an iteration (`stop_training`) skips the validation due after it.
    """

    stops_within_epoch = True

    def run(self):
        """Launches training."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._skip_trained_batches()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            if self.stop_training:
                break
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _skip_trained_batches(self) -> None:
        batch_sampler = _resumable_batch_sampler(self)
        infinite = batch_sampler is not None and isinstance(batch_sampler.sampler, InfiniteSampler)
        if not infinite:
            print_log(f'Advancing the dataloader {self._iter} steps by loading them (fast only with an '
                      'InfiniteSampler in a ResumableBatchSampler)', logger='current', level=logging.WARNING)
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            return
        # InfiniteSampler draws from one stream made at its construction, which loader workers may have started
        batch_sampler.sampler.indices = batch_sampler.sampler._indices_of_rank()
        batch_sampler.skip_batches(self._iter)
        self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
        state = resumed_training_state(self.runner, self._epoch, self._iter)
        if state is not None:
            set_rng_state(state['rng'])
        print_log(f'Passed over the {self._iter} trained batches without loading them', logger='current')
