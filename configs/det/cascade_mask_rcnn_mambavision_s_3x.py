# Cascade Mask R-CNN + FPN, MambaVision-S (ImageNet-1K), 3x multi-scale + crop; the T recipe
# with the S backbone (drop_path_rate 0.2, see the T config). Official: 52.3 box / 45.2 mask AP.
_base_ = './cascade_mask_rcnn_mambavision_t_3x.py'

pretrained = 'https://huggingface.co/nvidia/MambaVision-S-1K/resolve/main/mambavision_small_1k.pth.tar'  # noqa

model = dict(
    backbone=dict(arch='small', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
