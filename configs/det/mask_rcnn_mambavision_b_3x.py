# Mask R-CNN + FPN, MambaVision-B, 3x multi-scale; the T 3x recipe with the B backbone.
_base_ = './mask_rcnn_mambavision_t_3x.py'

pretrained = 'https://huggingface.co/nvidia/MambaVision-B-1K/resolve/main/mambavision_base_1k.pth.tar'  # noqa

model = dict(
    backbone=dict(arch='base', layer_scale=1e-5, init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[128, 256, 512, 1024]))
