"""Training utilities; importing this registers them in mmengine's root registries."""
from .checkpoint import UnreadableCheckpointError, checkpoint_problem, resolve_load_from
from .fileio import AtomicLocalBackend, atomic_write
from .hooks import AtomicCheckpointHook, use_atomic_checkpoints
from .optimizers import MambaVisionLayerDecayOptimizerConstructor

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'MambaVisionLayerDecayOptimizerConstructor',
    'UnreadableCheckpointError', 'atomic_write', 'checkpoint_problem', 'resolve_load_from',
    'use_atomic_checkpoints'
]
