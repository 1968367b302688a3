"""Key mapping from the official MambaVision checkpoints to this backbone (pure functions)."""
from collections import OrderedDict
from typing import Any, Dict, Mapping

import numpy as np
import torch
from torch import Tensor

#: Containers under which the weights may sit: timm / mmengine use `state_dict`, some tools `model`.
_CONTAINER_KEYS = ('state_dict', 'model', 'module')
#: Classification-only parts that the backbone does not have.
_CLASSIFIER_PREFIXES = ('norm.', 'head.')


def extract_state_dict(checkpoint: Mapping[str, Any]) -> Mapping[str, Tensor]:
    """Returns the name -> tensor mapping inside a loaded checkpoint object."""
    for key in _CONTAINER_KEYS:
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(k, str) for k in inner):
            return inner
    return checkpoint


def convert_mambavision(state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Maps any official MambaVision layout onto this backbone's parameter names.

    Handles the classification `.pth.tar` (no prefix), Hugging Face safetensors (`model.`),
    mmdet/mmseg checkpoints (`backbone.`; neck and heads dropped) and DDP's `module.`.
    The classifier's `norm.*` and `head.*` are dropped; everything else keeps its name.
    """
    def strip(key: str, prefix: str) -> str:
        return key[len(prefix):] if key.startswith(prefix) else key

    items = [(strip(k, 'module.'), v) for k, v in state_dict.items()]
    if any(k.startswith('backbone.') for k, _ in items):
        items = [(k[len('backbone.'):], v) for k, v in items if k.startswith('backbone.')]
    items = [(strip(k, 'model.'), v) for k, v in items]
    return OrderedDict((k, v) for k, v in items if not k.startswith(_CLASSIFIER_PREFIXES))


def as_tensor(value: Any, name: str) -> Tensor:
    """`value` of a state dict as a tensor: numeric numpy arrays and scalars (which some conversion
    scripts write) become tensors of the same dtype and shape.

    Raises:
        ValueError: `value` is neither a tensor nor a numeric numpy value; `name` is in the message.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind not in 'biuf':
            raise ValueError(f'{name} is a numpy array of dtype {value.dtype}, not numbers: a state dict '
                             'holds tensors (or numeric numpy arrays).')
        return torch.from_numpy(np.array(value))
    raise ValueError(f'{name} is a {type(value).__name__}, where a state dict holds tensors '
                     '(or numeric numpy arrays).')
