"""Synthetic inputs for tests, self-checks and tools. Importing it needs torch alone (the kernels import
`scan_inputs`); the synthetic data sets (numpy, OpenCV) load on first use."""
from importlib import import_module
from typing import Any

from .scan_inputs import ACTIVATIONS, LAYOUTS, SCAN_ARGS, ScanInputs, mixer_x_proj_width, scan_inputs

_SYNTHETIC_DATA = ('SHAPE_CLASSES', 'SHAPE_PALETTE', 'make_ade_shapes', 'make_coco_shapes')

__all__ = ['ACTIVATIONS', 'LAYOUTS', 'SCAN_ARGS', 'ScanInputs', 'mixer_x_proj_width', 'scan_inputs',
           *_SYNTHETIC_DATA]


def __getattr__(name: str) -> Any:
    if name in _SYNTHETIC_DATA:
        return getattr(import_module(f'{__name__}.synthetic_data'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
