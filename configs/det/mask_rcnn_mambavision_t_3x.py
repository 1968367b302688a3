# Mask R-CNN + FPN, MambaVision-T, 3x schedule (36 epochs) with multi-scale training as in
# mmdet's 3x recipes for Swin / ConvNeXt (ms-crop-3x): DETR-style random resize + crop.
# lr x0.1 after epochs 27 and 33; everything else as the 1x config.
_base_ = ['./mask_rcnn_mambavision_t.py', '../_base_/coco_ms_crop_aug.py']

train_pipeline = {{_base_.ms_crop_train_pipeline}}
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33],
         gamma=0.1),
]
