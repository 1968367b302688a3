"""An mmseg segmentor as an exportable module: image -> logits at image size."""
from torch import Tensor, nn

from .adaptive_pool import replace_adaptive_avg_pools


class SegmentorLogits(nn.Module):
    """mmseg EncoderDecoder: image -> decode-head logits resized to the image (bilinear).

    Its adaptive average pools (UperNet's PPM) are swapped for `ExportableAdaptiveAvgPool2d`, which stays dynamic.
    """

    def __init__(self, segmentor: nn.Module):
        super().__init__()
        self.segmentor = segmentor
        replace_adaptive_avg_pools(segmentor.decode_head)

    def forward(self, img: Tensor) -> Tensor:
        from mmseg.models.utils import resize

        head = self.segmentor.decode_head
        logits = head.forward(self.segmentor.extract_feat(img))
        return resize(logits, size=img.shape[2:], mode='bilinear', align_corners=head.align_corners)
