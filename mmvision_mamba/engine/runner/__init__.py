from .resumable_loops import ResumableEpochBasedTrainLoop, ResumableIterBasedTrainLoop
from .resumable_training import use_resumable_training
from .rng_state import get_rng_state, set_rng_state
from .training_state import TRAINING_STATE_KEY, record_training_state, resumed_training_state

__all__ = [
    'ResumableEpochBasedTrainLoop', 'ResumableIterBasedTrainLoop', 'TRAINING_STATE_KEY', 'get_rng_state',
    'record_training_state', 'resumed_training_state', 'set_rng_state', 'use_resumable_training'
]
