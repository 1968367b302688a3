# Quickstart (`make quickstart`): mask_rcnn_mambavision_t trained on the CPU, from scratch, on a
# small synthetic COCO-format set of shapes (written by tools/quickstart.py under data/shapes_coco/).
# Overrides of the COCO recipe: 3 classes, 128 px images, windows that tile the 8x8 and 4x4 maps
# of levels 2 and 3 exactly (the detection windows (8, 8, 112, 56) are for 1333x800 images; heavy
# unmasked padding makes from-scratch gradients explode), fewer RoIs (mmcv's CPU RoIAlign is
# slow), no ImageNet weights, fp32, a short schedule.
_base_ = './mask_rcnn_mambavision_t.py'

data_root = 'data/shapes_coco/'
classes = ('rectangle', 'ellipse', 'triangle')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 130, 230), (250, 170, 30)])
image_size = (128, 128)
max_epochs = 8

model = dict(
    backbone=dict(window_size=(8, 8, 8, 4), drop_path_rate=0., init_cfg=None),
    roi_head=dict(bbox_head=dict(num_classes=len(classes)), mask_head=dict(num_classes=len(classes))),
    train_cfg=dict(rpn_proposal=dict(max_per_img=300), rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(max_per_img=100), rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=4e-4), clip_grad=dict(max_norm=10.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5),
]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=max_epochs))
