"""What of a model is exported: the backbone's feature maps, a segmentor's logits or a detector's raw tensors."""
from typing import Tuple

from torch import nn

from .detector_tensors import DetectorTensors
from .segmentor_logits import SegmentorLogits


def export_target(model: nn.Module, backbone_only: bool = False) -> Tuple[nn.Module, str]:
    """The module to export for `model` and a description of its outputs.

    Args:
        model: a MambaVision backbone, an mmseg segmentor (with a decode head) or an mmdet detector.
        backbone_only: export `model.backbone` alone.

    Raises:
        ValueError: the model has nothing this function knows how to export (then try `backbone_only`).
    """
    from ..models import MambaVision

    if isinstance(model, MambaVision):
        return model, 'backbone feature maps'
    if backbone_only:
        if getattr(model, 'backbone', None) is None:
            raise ValueError(f'{type(model).__name__} has no backbone.')
        return model.backbone, 'backbone feature maps'
    if getattr(model, 'decode_head', None) is not None:
        return SegmentorLogits(model), 'segmentation logits at image size'
    if not hasattr(model, 'extract_feat'):
        raise ValueError(f'{type(model).__name__} is neither an mmseg segmentor nor an mmdet detector; '
                         'export its backbone with --backbone-only.')
    detector = DetectorTensors(model)
    if detector.two_stage:
        return detector, 'neck features + RPN scores and box deltas (RoI stage stays in Python)'
    if getattr(model, 'bbox_head', None) is None:
        raise ValueError(f'{type(model).__name__} has neither rpn_head nor bbox_head; use --backbone-only.')
    return detector, 'head scores and box deltas per level'
