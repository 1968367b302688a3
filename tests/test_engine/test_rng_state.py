"""get_rng_state / set_rng_state: the next draws of every generator come again."""
import pickle
import random

import numpy as np
import pytest
import torch

from mmvision_mamba.engine.runner import get_rng_state, set_rng_state


def draws() -> tuple:
    return random.random(), np.random.rand(), np.random.randn(), torch.rand(3).tolist()


def test_round_trip() -> None:
    np.random.randn()  # a cached Gaussian in NumPy's state
    state = pickle.loads(pickle.dumps(get_rng_state()))
    first = draws()
    assert draws() != first
    set_rng_state(state)
    assert draws() == first


def test_incomplete_state() -> None:
    with pytest.raises(ValueError, match='without numpy'):
        set_rng_state(dict(python=random.getstate(), torch=torch.get_rng_state()))
