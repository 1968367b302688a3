"""Packed inputs and data samples of a made-up batch for an mmdet detector or an mmseg segmentor, as
`mmdet.testing.demo_mm_inputs` makes them: what `model.data_preprocessor` takes (uint8 (3, H, W) images, one
data sample each). mmdet / mmseg are imported when a batch is made, so that this module imports with torch alone."""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

#: Ground-truth boxes as fractions of the image: (x0, y0, x1, y1).
DEMO_BOXES = ((0.1, 0.1, 0.5, 0.6), (0.4, 0.3, 0.9, 0.9))
SCOPES = ('mmdet', 'mmseg')


def _images(batch_size: int, shape: Tuple[int, int], seed: int,
            device: Union[str, torch.device]) -> List[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, *shape), dtype=torch.uint8, generator=g).to(device) for _ in range(batch_size)]


def _metainfo(shape: Tuple[int, int]) -> dict:
    """The image-size keys a test-time forward reads, for an image that was neither resized nor padded."""
    return dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape)


def demo_det_inputs(batch_size: int = 1, image_shape: Sequence[int] = (64, 64), num_boxes: int = 2,
                    with_gt: bool = True, with_masks: bool = True, seed: int = 0,
                    device: Union[str, torch.device] = 'cpu') -> dict:
    """A batch for an mmdet detector: `dict(inputs=[uint8 (3, H, W)], data_samples=[DetDataSample])`.

    Args:
        batch_size: number of images.
        image_shape: (H, W).
        num_boxes: ground-truth boxes per image (up to len(DEMO_BOXES)), labels 0, 1, ...
        with_gt: add `gt_instances` (boxes, labels and, with `with_masks`, box-shaped bitmap masks); without it the
            samples hold only the metainfo (for a test-time or 'tensor' forward).
        seed: seed of the random pixels.
    """
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    if not 0 < num_boxes <= len(DEMO_BOXES):
        raise ValueError(f'num_boxes must be in 1..{len(DEMO_BOXES)}, got {num_boxes}.')
    h, w = shape = tuple(int(s) for s in image_shape)
    samples = []
    for i in range(batch_size):
        sample = DetDataSample(metainfo=dict(_metainfo(shape), img_id=i, scale_factor=(1., 1.)))
        if with_gt:
            boxes = torch.tensor(DEMO_BOXES[:num_boxes]) * torch.tensor([w, h, w, h])
            gt = InstanceData(bboxes=boxes, labels=torch.arange(num_boxes))
            if with_masks:
                masks = np.zeros((num_boxes, h, w), dtype=np.uint8)
                for k, (x0, y0, x1, y1) in enumerate(boxes.int().tolist()):
                    masks[k, y0:y1, x0:x1] = 1
                gt.masks = BitmapMasks(masks, h, w)
            sample.gt_instances = gt
        samples.append(sample)
    return dict(inputs=_images(batch_size, shape, seed, device), data_samples=samples)


def demo_seg_inputs(batch_size: int = 1, image_shape: Sequence[int] = (64, 64), num_classes: int = 150,
                    with_gt: bool = True, seed: int = 0, device: Union[str, torch.device] = 'cpu') -> dict:
    """A batch for an mmseg segmentor: `dict(inputs=[uint8 (3, H, W)], data_samples=[SegDataSample])`.

    Args:
        batch_size: number of images.
        image_shape: (H, W).
        num_classes: the labels of `gt_sem_seg` are random in [0, num_classes).
        with_gt: add `gt_sem_seg`; without it the samples hold only the metainfo.
        seed: seed of the random pixels and labels.
    """
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    shape = tuple(int(s) for s in image_shape)
    g = torch.Generator().manual_seed(seed + 1)
    samples = []
    for _ in range(batch_size):
        sample = SegDataSample(metainfo=dict(_metainfo(shape), padding_size=[0, 0, 0, 0]))
        if with_gt:
            sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, *shape), generator=g))
        samples.append(sample)
    return dict(inputs=_images(batch_size, shape, seed, device), data_samples=samples)


def demo_mm_inputs(scope: str, batch_size: int = 1, image_shape: Sequence[int] = (64, 64),
                   with_gt: bool = True, seed: int = 0, device: Union[str, torch.device] = 'cpu',
                   num_classes: Optional[int] = None) -> dict:
    """:func:`demo_det_inputs` for scope 'mmdet', :func:`demo_seg_inputs` for 'mmseg'.

    Raises:
        ValueError: another scope.
    """
    if scope == 'mmdet':
        return demo_det_inputs(batch_size, image_shape, with_gt=with_gt, seed=seed, device=device)
    if scope == 'mmseg':
        return demo_seg_inputs(batch_size, image_shape, num_classes=num_classes or 150, with_gt=with_gt, seed=seed,
                               device=device)
    raise ValueError(f"Demo inputs exist for the scopes 'mmdet' and 'mmseg', not {scope!r}.")
