"""Training utilities; importing this registers them in mmengine's root registries."""
from .atomic_backend import AtomicLocalBackend
from .hooks import (EXIT_PREEMPTED, AtomicCheckpointHook, PreemptionHook, ResumableCheckpointHook,
                    use_atomic_checkpoints)
from .logging import forward_ops_logs
from .optimizers import MambaVisionLayerDecayOptimizerConstructor
from .resume import UnreadableCheckpointError, checkpoint_problem, resolve_load_from
from .runner import ResumableEpochBasedTrainLoop, ResumableIterBasedTrainLoop, use_resumable_training
from .samplers import ResumableBatchSampler

forward_ops_logs()

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'EXIT_PREEMPTED', 'MambaVisionLayerDecayOptimizerConstructor',
    'PreemptionHook', 'ResumableBatchSampler', 'ResumableCheckpointHook', 'ResumableEpochBasedTrainLoop',
    'ResumableIterBasedTrainLoop', 'UnreadableCheckpointError', 'checkpoint_problem', 'forward_ops_logs',
    'resolve_load_from', 'use_atomic_checkpoints', 'use_resumable_training'
]
