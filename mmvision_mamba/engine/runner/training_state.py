"""Where training stood when a checkpoint was taken: its epoch and iteration and the RNG state of every rank.

It travels in the checkpoint as runtime information of the message hub, which mmengine's `Runner.resume` puts
back (and loading weights with `load_from` does not).
"""
import logging
from typing import Any, Dict, Optional

from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.logging import print_log

from .rng_state import get_rng_state

#: The message hub key of the state.
TRAINING_STATE_KEY = 'training_state'


def record_training_state(runner, epoch: int, iteration: int) -> None:
    """Puts the state after `iteration` iterations into the message hub; a collective call (every rank)."""
    rng = all_gather_object(get_rng_state())
    runner.message_hub.update_info(TRAINING_STATE_KEY, dict(epoch=epoch, iter=iteration, world_size=len(rng), rng=rng))


def resumed_training_state(runner, epoch: int, iteration: int) -> Optional[Dict[str, Any]]:
    """This rank's part (`epoch`, `iter`, `rng`) of the state that the resumed checkpoint holds for
    `epoch`/`iteration`, or None: no such state (a plain mmengine checkpoint, or a fresh run) or one of another
    number of ranks (with a warning)."""
    state = runner.message_hub.get_info(TRAINING_STATE_KEY)
    if not isinstance(state, dict) or state.get('epoch') != epoch or state.get('iter') != iteration:
        return None
    if state.get('world_size') != get_world_size():
        print_log(f'The checkpoint was written by {state.get("world_size")} processes and this run has '
                  f'{get_world_size()}: their RNG states and the position in the epoch are not restored.',
                  logger='current', level=logging.WARNING)
        return None
    return dict(epoch=epoch, iter=iteration, rng=state['rng'][get_rank()])
