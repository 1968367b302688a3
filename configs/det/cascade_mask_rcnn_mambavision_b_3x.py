# Cascade Mask R-CNN + FPN, MambaVision-B (ImageNet-1K), 3x multi-scale + crop; the T recipe
# with the B backbone (layer scale 1e-5, drop_path_rate 0.2, see the T config) and lr 2e-4.
# Official: 52.8 box AP / 45.7 mask AP.
_base_ = './cascade_mask_rcnn_mambavision_t_3x.py'

pretrained = 'https://huggingface.co/nvidia/MambaVision-B-1K/resolve/main/mambavision_base_1k.pth.tar'  # noqa

model = dict(
    backbone=dict(arch='base', layer_scale=1e-5, init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[128, 256, 512, 1024]))

optim_wrapper = dict(optimizer=dict(lr=2e-4))
