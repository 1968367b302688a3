# Cascade Mask R-CNN + FPN, MambaVision-T (ImageNet-1K), 3x (36 epochs) multi-scale + crop:
# the official MambaVision COCO recipe. Official result: 51.1 box AP / 44.3 mask AP.
# 16 images per batch (8 GPUs x 2), AdamW lr 1e-4 / wd 0.05 (none on norms), AMP; warm-up
# 1000 iters, lr x0.1 after epochs 27 and 33. Cascade heads: 4 conv + 1 fc, SyncBN, GIoU x10.
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/coco_ms_crop_aug.py',
]

custom_imports = dict(imports=['mmvision_mamba'], allow_failed_imports=False)
# mmengine's CheckpointHook, writing whole files (a temporary file renamed into place)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))

pretrained = 'https://huggingface.co/nvidia/MambaVision-T-1K/resolve/main/mambavision_tiny_1k.pth.tar'  # noqa


def _stage_bbox_head(target_stds):
    """Bounding-box head of one cascade stage (they differ only in the target stds)."""
    return dict(
        type='ConvFCBBoxHead',
        num_shared_convs=4,
        num_shared_fcs=1,
        in_channels=256,
        conv_out_channels=256,
        fc_out_channels=1024,
        roi_feat_size=7,
        num_classes=80,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.], target_stds=target_stds),
        reg_class_agnostic=False,
        reg_decoded_bbox=True,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=10.0))


model = dict(
    backbone=dict(
        _delete_=True,
        type='MambaVision',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        # levels 2/3 (stride 16/32) take a 1333x800 image as one padded window
        window_size=(8, 8, 112, 56),
        # the official runs trained every variant with 0.2 (their backbone wrapper drops the
        # configured 0.2 / 0.3 / 0.5 and uses its default 0.2); 0.2 reproduces the results
        drop_path_rate=0.2,
        layer_scale=None,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[80, 160, 320, 640]),
    roi_head=dict(bbox_head=[
        _stage_bbox_head([0.1, 0.1, 0.2, 0.2]),
        _stage_bbox_head([0.05, 0.05, 0.1, 0.1]),
        _stage_bbox_head([0.033, 0.033, 0.067, 0.067]),
    ]))

train_pipeline = {{_base_.ms_crop_train_pipeline}}
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))  # x 8 GPUs
auto_scale_lr = dict(enable=False, base_batch_size=16)

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33],
         gamma=0.1),
]

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(
        _delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
