"""Training utilities; importing this registers them in mmengine's root registries."""
from .atomic_backend import AtomicLocalBackend
from .hooks import AtomicCheckpointHook, use_atomic_checkpoints
from .logging import forward_ops_logs
from .optimizers import MambaVisionLayerDecayOptimizerConstructor
from .resume import UnreadableCheckpointError, checkpoint_problem, resolve_load_from

forward_ops_logs()

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'MambaVisionLayerDecayOptimizerConstructor',
    'UnreadableCheckpointError', 'checkpoint_problem', 'forward_ops_logs', 'resolve_load_from',
    'use_atomic_checkpoints'
]
