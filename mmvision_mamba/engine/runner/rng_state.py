"""The state of the random number generators a training process draws from: Python's, NumPy's and torch's."""
import random
from typing import Any, Dict

import numpy as np
import torch


def get_rng_state() -> Dict[str, Any]:
    """The states of `random`, `numpy.random` and torch's CPU (and, where present, CUDA) generators."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    # plain Python values: checkpoints load with torch.load(weights_only=True)
    state = dict(python=random.getstate(), numpy=(name, keys.tolist(), int(pos), int(has_gauss), float(gauss)),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Puts back states from :func:`get_rng_state`; CUDA states only where this process has as many devices.

    Raises:
        ValueError: `state` lacks one of the generators.
    """
    missing = {'python', 'numpy', 'torch'} - state.keys()
    if missing:
        raise ValueError(f'RNG state without {", ".join(sorted(missing))}')
    random.setstate(state['python'])
    name, keys, pos, has_gauss, gauss = state['numpy']
    np.random.set_state((name, np.asarray(keys, np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
