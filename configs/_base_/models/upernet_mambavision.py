# UperNet (channels 512) + FCN auxiliary head on level 2 (stride 16, loss weight 0.4), both with SyncBN
# (mmseg's upernet_swin base), on MambaVision-T (ImageNet-1K) as the official segmentation recipes build it.
# Configs set the data preprocessor's size and num_classes; other variants change arch, layer_scale, the
# checkpoint and the heads' in_channels (the backbone's out_channels; the auxiliary head takes level 2's).
_base_ = 'mmseg::_base_/models/upernet_swin.py'

custom_imports = dict(imports=['mmvision_mamba'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/nvidia/MambaVision-T-1K/resolve/main/mambavision_tiny_1k.pth.tar'  # noqa

model = dict(
    backbone=dict(
        _delete_=True,
        type='MambaVision',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        window_size=(8, 8, 64, 32),
        # the official runs trained every variant with 0.2 (their backbone wrapper drops the
        # configured 0.3 / 0.7 / 0.4 / 0.8 and uses its default 0.2); 0.2 reproduces them
        drop_path_rate=0.2,
        layer_scale=None,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[80, 160, 320, 640]),
    auxiliary_head=dict(in_channels=320))
