# UperNet, MambaVision-B (ImageNet-1K), ADE20K 512x512, 160k: the T recipe with the B
# backbone (layer scale 1e-5). Official: 49.1 mIoU.
_base_ = './upernet_mambavision_t_512x512_160k_ade20k.py'

pretrained = 'https://huggingface.co/nvidia/MambaVision-B-1K/resolve/main/mambavision_base_1k.pth.tar'  # noqa

model = dict(
    backbone=dict(arch='base', layer_scale=1e-5, init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
