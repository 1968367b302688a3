"""Runs an mmdet / mmseg model on a bare image tensor (its 'tensor' mode with made-up data samples), as
tracers and counters need: `model(images)` -> the heads' raw outputs."""
import contextlib
from functools import partial
from typing import Iterator, List, Tuple

from torch import nn

from ..testing import demo_mm_inputs


def fake_data_samples(scope: str, shape: Tuple[int, int], batch: int = 1) -> List:
    """Data samples with the metainfo a test-time forward reads, for images of `shape` (H, W) with no resize
    (:func:`mmvision_mamba.testing.demo_mm_inputs` without ground truth).

    Args:
        scope: 'mmdet' (DetDataSample) or 'mmseg' (SegDataSample).
    """
    return demo_mm_inputs(scope, batch, shape, with_gt=False)['data_samples']


@contextlib.contextmanager
def tensor_forward(model: nn.Module, scope: str, shape: Tuple[int, int], batch: int = 1) -> Iterator[nn.Module]:
    """Within this context `model(images)` is `model(images, fake_data_samples(...), mode='tensor')`.

    Args:
        model: an mmdet detector or mmseg segmentor (a BaseModel with a 'tensor' mode).
        scope: 'mmdet' or 'mmseg'.
        shape: (H, W) of the images that will be passed.
    """
    samples = fake_data_samples(scope, shape, batch)
    model.forward = partial(model.forward, data_samples=samples, mode='tensor')
    try:
        yield model
    finally:
        del model.forward
