"""An mmdet detector as an exportable module: image -> a flat tuple of its raw tensors."""
from typing import Tuple

from torch import Tensor, nn

from .onnx import flatten_outputs


class DetectorTensors(nn.Module):
    """mmdet detector in tensor mode, flattened to a tuple of tensors.

    Single-stage: the bbox head's raw outputs. Two-stage: the neck's features, then the RPN head's raw outputs
    (proposals, RoI heads and all post-processing stay in Python).
    """

    def __init__(self, detector: nn.Module):
        super().__init__()
        self.detector = detector
        self.two_stage = getattr(detector, 'rpn_head', None) is not None

    def forward(self, img: Tensor) -> Tuple[Tensor, ...]:
        feats = self.detector.extract_feat(img)
        if self.two_stage:
            return tuple(flatten_outputs((feats, self.detector.rpn_head.forward(feats))))
        return tuple(flatten_outputs(self.detector.bbox_head.forward(feats)))
