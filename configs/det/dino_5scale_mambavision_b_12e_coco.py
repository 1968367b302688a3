# DINO (5 scales), MambaVision-B (ImageNet-1K), COCO, 12 epochs: mmdet's Swin-L DINO recipe
# (dino/dino-5scale_swin-l_8xb2-12e_coco.py) with a MambaVision backbone. No published result.
# 16 images per batch (8 GPUs x 2), AdamW lr 1e-4 / wd 1e-4, backbone lr x0.1, gradient clip 0.1,
# fp32, lr x0.1 after epoch 11; DETR multi-scale + crop augmentation. Five feature levels:
# backbone levels 0-3 (strides 4-32) and a stride-64 level that the ChannelMapper neck adds.
_base_ = 'mmdet::dino/dino-5scale_swin-l_8xb2-12e_coco.py'

custom_imports = dict(imports=['mmvision_mamba'], allow_failed_imports=False)

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
        drop_path_rate=0.2,  # Swin-L's in this recipe
        layer_scale=1e-5,
        with_cp=True,  # as Swin-L: activation checkpointing per block
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[128, 256, 512, 1024]))
