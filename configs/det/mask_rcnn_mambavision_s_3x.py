# Mask R-CNN + FPN, MambaVision-S, 3x multi-scale; the T 3x recipe with the S backbone.
_base_ = './mask_rcnn_mambavision_t_3x.py'

pretrained = 'https://huggingface.co/nvidia/MambaVision-S-1K/resolve/main/mambavision_small_1k.pth.tar'  # noqa

model = dict(
    backbone=dict(arch='small', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
