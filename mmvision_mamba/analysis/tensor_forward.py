"""Runs an mmdet / mmseg model on a bare image tensor (its 'tensor' mode with made-up data samples), as
tracers and counters need: `model(images)` -> the heads' raw outputs."""
import contextlib
from functools import partial
from typing import Iterator, List, Tuple

from torch import nn


def fake_data_samples(scope: str, shape: Tuple[int, int], batch: int = 1) -> List:
    """Data samples with the metainfo a test-time forward reads, for images of `shape` (H, W) with no resize.

    Args:
        scope: 'mmdet' (DetDataSample) or 'mmseg' (SegDataSample).
    """
    h, w = shape
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w))
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample
        return [DetDataSample(metainfo=dict(meta, scale_factor=(1., 1.), img_id=i)) for i in range(batch)]
    if scope == 'mmseg':
        from mmseg.structures import SegDataSample
        return [SegDataSample(metainfo=dict(meta, padding_size=[0, 0, 0, 0])) for _ in range(batch)]
    raise ValueError(f"Made-up data samples exist for the scopes 'mmdet' and 'mmseg', not {scope!r}.")


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
