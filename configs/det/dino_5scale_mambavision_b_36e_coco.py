# DINO (5 scales), MambaVision-B (ImageNet-1K), COCO, 36 epochs: the 12-epoch config with the
# schedule of mmdet's dino/dino-5scale_swin-l_8xb2-36e_coco.py (lr x0.1 after epochs 27 and 33).
# No published result.
_base_ = './dino_5scale_mambavision_b_12e_coco.py'

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33],
         gamma=0.1)
]
