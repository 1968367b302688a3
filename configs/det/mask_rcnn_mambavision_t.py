# Mask R-CNN + FPN, MambaVision-T (ImageNet-1K), 1x schedule (12 epochs) on COCO.
# Paper setting (MambaVision, CVPR 2025): 46.4 box AP / 41.8 mask AP.
# 16 images per batch (8 GPUs x 2), AdamW lr 1e-4 / wd 0.05, AMP; warm-up 1000 iters, lr x0.1
# after epochs 8 and 11 (all from mmdet's Swin-T Mask R-CNN 1x config below, but AMP).
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'

custom_imports = dict(imports=['mmvision_mamba'], allow_failed_imports=False)
# mmengine's CheckpointHook, writing whole files (a temporary file renamed into place)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))

pretrained = 'https://huggingface.co/nvidia/MambaVision-T-1K/resolve/main/mambavision_tiny_1k.pth.tar'  # noqa

model = dict(
    backbone=dict(
        _delete_=True,
        type='MambaVision',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        # levels 2/3 (stride 16/32) take a 1333x800 image as one padded window, as the
        # official detection recipe does
        window_size=(8, 8, 112, 56),
        # what the official runs used, whatever their configs say (configs/README.md, Drop path)
        drop_path_rate=0.2,
        layer_scale=None,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[80, 160, 320, 640]))

train_dataloader = dict(batch_size=2)  # x 8 GPUs
auto_scale_lr = dict(enable=False, base_batch_size=16)

# AdamW(lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05) comes from the Swin base; no weight
# decay on norm layers and on the selective scan's A_log and D.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.,
        custom_keys={
            'A_log': dict(decay_mult=0.),
            'mixer.D': dict(decay_mult=0.),
        }))
