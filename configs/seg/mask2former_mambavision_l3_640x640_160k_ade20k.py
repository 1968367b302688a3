# Mask2Former, MambaVision-L3 (ImageNet-21K, 512 px; 740 M parameters), ADE20K 640x640, 160k
# iterations: the B config with the L3 backbone, as mmseg's Swin-L recipe
# (mask2former/mask2former_swin-l-in22k-384x384-pre_8xb2-160k_ade20k-640x640.py) is its Swin-B
# recipe with Swin-L (21K). No published result.
_base_ = './mask2former_mambavision_b_640x640_160k_ade20k.py'

pretrained = 'https://huggingface.co/nvidia/MambaVision-L3-512-21K/resolve/main/mambavision_L3_21k_740m_512.pth.tar'  # noqa

model = dict(
    backbone=dict(arch='large3', init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=[256, 512, 1024, 2048]))

# the B config's no-decay keys, extended to L3's deeper levels 2 and 3
depths = (3, 3, 20, 10)
backbone_no_decay = dict(lr_mult=0.1, decay_mult=0.0)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    f'backbone.levels.{level}.blocks.{block}.{name}': backbone_no_decay
    for level in (2, 3) for block in range(depths[level])
    for name in ('norm', 'gamma', 'mixer.A_log', 'mixer.D')
}))
