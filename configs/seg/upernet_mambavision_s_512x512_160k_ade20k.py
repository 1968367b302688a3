# UperNet, MambaVision-S (ImageNet-1K), ADE20K 512x512, 160k: the T recipe with the S
# backbone, windows (8, 8, 160, 56) and lr 6e-5. Official: 48.2 mIoU.
_base_ = './upernet_mambavision_t_512x512_160k_ade20k.py'

pretrained = 'https://huggingface.co/nvidia/MambaVision-S-1K/resolve/main/mambavision_small_1k.pth.tar'  # noqa

model = dict(
    backbone=dict(
        arch='small', window_size=(8, 8, 160, 56), init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))

optim_wrapper = dict(optimizer=dict(lr=6e-5))
