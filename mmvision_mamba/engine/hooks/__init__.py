from .atomic_checkpoint_hook import AtomicCheckpointHook, use_atomic_checkpoints
from .preemption_hook import EXIT_PREEMPTED, PreemptionHook
from .resumable_checkpoint_hook import ResumableCheckpointHook

__all__ = ['AtomicCheckpointHook', 'EXIT_PREEMPTED', 'PreemptionHook', 'ResumableCheckpointHook',
           'use_atomic_checkpoints']
