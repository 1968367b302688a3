# DETR-style multi-scale + crop training augmentation of mmdet's 3x recipes (Swin, ConvNeXt) and of
# the official MambaVision Cascade Mask R-CNN: either resize the shorter side to one of 480..800
# (step 32), or resize it to 400/500/600, crop a 384..600 patch and resize that to 480..800; the
# longer side is kept <= 1333. Configs take it as `{{_base_.ms_crop_train_pipeline}}`.
ms_scales = [(short, 1333) for short in range(480, 801, 32)]
ms_crop_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=ms_scales, keep_ratio=True)],
            [
                dict(type='RandomChoiceResize', scales=[(400, 1333), (500, 1333), (600, 1333)],
                     keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600),
                     allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=ms_scales, keep_ratio=True),
            ],
        ]),
    dict(type='PackDetInputs'),
]
