"""Training utilities; importing this registers them in mmengine's root registries."""
from .checkpoint import UnreadableCheckpointError, checkpoint_problem, resolve_load_from
from .fileio import AtomicLocalBackend, atomic_write
from .hooks import (EXIT_PREEMPTED, AtomicCheckpointHook, PreemptionHook, ResumableCheckpointHook,
                    use_atomic_checkpoints)
from .optimizers import MambaVisionLayerDecayOptimizerConstructor
from .runner import ResumableEpochBasedTrainLoop, ResumableIterBasedTrainLoop, use_resumable_training
from .samplers import ResumableBatchSampler

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'EXIT_PREEMPTED', 'MambaVisionLayerDecayOptimizerConstructor',
    'PreemptionHook', 'ResumableBatchSampler', 'ResumableCheckpointHook', 'ResumableEpochBasedTrainLoop',
    'ResumableIterBasedTrainLoop', 'UnreadableCheckpointError', 'atomic_write', 'checkpoint_problem',
    'resolve_load_from', 'use_atomic_checkpoints', 'use_resumable_training'
]
