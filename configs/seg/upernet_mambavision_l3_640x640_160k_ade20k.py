# UperNet, MambaVision-L3 (ImageNet-21K, 512px), ADE20K 640x640, 160k iterations: the
# official recipe. Official result: 53.2 mIoU (single scale).
# 16 images per batch, AdamW lr 8e-5 / wd 0.05 (none on norms), fp32 (the official run
# turned AMP off for L3 as unstable), linear warm-up 1500 iterations then poly; validation
# every 5000 iterations.
_base_ = [
    '../_base_/models/upernet_mambavision.py',
    'mmseg::_base_/datasets/ade20k_640x640.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]

# mmengine's CheckpointHook, writing whole files (a temporary file renamed into place)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))

pretrained = 'https://huggingface.co/nvidia/MambaVision-L3-512-21K/resolve/main/mambavision_L3_21k_740m_512.pth.tar'  # noqa

crop_size = (640, 640)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(arch='large3', layer_scale=1e-5, init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=[256, 512, 1024, 2048], num_classes=150),
    auxiliary_head=dict(in_channels=1024, num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=8e-5, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]

train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=5000)

# 8 GPUs x 2 images (the official run: 16 GPUs x 1)
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader

# multi-scale + flip testing (tools/test.py --tta): the test scale (2560, 640) x 0.5 ... 1.75, each view
# also flipped (mmseg's ADE20K base scales the original image instead, ignoring the test scale)
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(int(2560 * r), int(640 * r)), keep_ratio=True) for r in img_ratios],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ])
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
