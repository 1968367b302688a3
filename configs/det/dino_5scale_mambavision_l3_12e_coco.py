# DINO (5 scales), MambaVision-L3 (ImageNet-21K, 512 px; 740 M parameters), COCO, 12 epochs: the
# B config (mmdet's Swin-L DINO recipe, windows 'fit') with the L3 backbone. No published result.
_base_ = './dino_5scale_mambavision_b_12e_coco.py'

pretrained = 'https://huggingface.co/nvidia/MambaVision-L3-512-21K/resolve/main/mambavision_L3_21k_740m_512.pth.tar'  # noqa

model = dict(
    backbone=dict(arch='large3', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[256, 512, 1024, 2048]))
