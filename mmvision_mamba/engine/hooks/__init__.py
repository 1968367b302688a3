from .atomic_checkpoint_hook import AtomicCheckpointHook, use_atomic_checkpoints

__all__ = ['AtomicCheckpointHook', 'use_atomic_checkpoints']
