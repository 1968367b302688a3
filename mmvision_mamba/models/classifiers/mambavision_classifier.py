"""The official ImageNet classifier around the backbone, for counting the paper's flops and parameters."""
from typing import Union

from torch import Tensor, nn

from ..backbones import MambaVision


class MambaVisionClassifier(nn.Module):
    """MambaVision's last level -> BatchNorm2d -> global average pool -> Linear, as the official classifier.

    The backbone returns only level 3, with no output norm (the classifier has none), so parameters and flops
    are those the paper reports.

    Args:
        arch: a MambaVision arch name or dict.
        num_classes: classes of the linear head.
        **backbone_kwargs: other MambaVision arguments (e.g. window_size).
    """

    def __init__(self, arch: Union[str, dict] = 'tiny', num_classes: int = 1000, **backbone_kwargs):
        super().__init__()
        self.backbone = MambaVision(arch, out_indices=(3,), out_norm_cfg=None, **backbone_kwargs)
        channels = self.backbone.num_features[-1]
        self.norm = nn.BatchNorm2d(channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, num_classes) logits."""
        return self.head(self.avgpool(self.norm(self.backbone(x)[0])).flatten(1))
