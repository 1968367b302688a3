# Mask2Former, MambaVision-B (ImageNet-1K), ADE20K 640x640, 160k iterations: mmseg's Swin-B
# recipe (mask2former/mask2former_swin-b-in1k-384x384-pre_8xb2-160k_ade20k-640x640.py, which
# its Swin-L recipe inherits) with a MambaVision backbone. No published result.
# 16 images per batch (8 GPUs x 2), AdamW lr 1e-4 / wd 0.05, backbone lr x0.1, gradient clip
# 0.01, fp32, poly (power 0.9) to 0; validation every 5000 iterations.
_base_ = 'mmseg::mask2former/mask2former_swin-b-in1k-384x384-pre_8xb2-160k_ade20k-640x640.py'

custom_imports = dict(imports=['mmdet.models', 'mmvision_mamba'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/nvidia/MambaVision-B-1K/resolve/main/mambavision_base_1k.pth.tar'  # noqa

model = dict(
    backbone=dict(
        _delete_=True,
        type='MambaVision',
        arch='base',
        out_indices=(0, 1, 2, 3),
        # 'fit' windows: every level-2/3 map up to 1792 px is one unpadded window (configs/README.md, Windows)
        window_size=(8, 8, 112, 56),
        window_mode='fit',
        drop_path_rate=0.3,  # Swin's in this recipe
        layer_scale=1e-5,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]))

# As for Swin: the backbone at lr x0.1, no weight decay on its norms nor on the query / level
# embeddings; here also none on the layer scales (gamma) and the selective scan's A_log / D.
depths = (3, 3, 10, 5)
backbone_no_decay = dict(lr_mult=0.1, decay_mult=0.0)
embed_multi = dict(lr_mult=1.0, decay_mult=0.0)
custom_keys = {
    'backbone': dict(lr_mult=0.1, decay_mult=1.0),
    'backbone.patch_embed.conv_down.1': backbone_no_decay,  # the stem's BatchNorms
    'backbone.patch_embed.conv_down.4': backbone_no_decay,
    'backbone.outnorm': backbone_no_decay,
    'query_embed': embed_multi,
    'query_feat': embed_multi,
    'level_embed': embed_multi,
}
custom_keys.update({
    f'backbone.levels.{level}.blocks.{block}.{name}': backbone_no_decay
    for level, depth in enumerate(depths) for block in range(depth)
    for name in (('norm', ) if level < 2 else ('norm', 'gamma', 'mixer.A_log', 'mixer.D'))
})
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(_delete_=True, **custom_keys)))
