"""MambaVision dropped into mmseg's own ResNet-based configs: `pretrained=` as in mmseg's Swin / MiT,
the segmentors build and run loss + predict, and the ResNet weights left in `model.pretrained` fail to
load with a message that says what to do."""
import pytest
import torch

pytest.importorskip('mmseg')
from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope, init_default_scope  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402

from mmvision_mamba.models import MambaVision  # noqa: E402

ARCH = dict(dim=8, in_dim=8, depths=(1, 1, 2, 1), num_heads=(1, 1, 2, 2))
CHANNELS = [8, 16, 32, 64]
BN = dict(type='BN', requires_grad=True)  # the bases' SyncBN needs a process group
BACKBONE = f"backbone=dict(_delete_=True, type='MambaVision', arch={ARCH!r}, window_size=4)"

# base config -> the overrides that a user writes to drop MambaVision in
DROP_IN = {
    'upernet_r50.py': f'''model = dict({BACKBONE},
    decode_head=dict(in_channels={CHANNELS}, channels=16, num_classes=5, norm_cfg={BN!r}),
    auxiliary_head=dict(in_channels={CHANNELS[2]}, channels=8, num_classes=5, norm_cfg={BN!r}))''',
    'fpn_r50.py': f'''model = dict({BACKBONE},
    neck=dict(in_channels={CHANNELS}, out_channels=16),
    decode_head=dict(in_channels=[16] * 4, channels=16, num_classes=5, norm_cfg={BN!r}))''',
    'deeplabv3_r50-d8.py': f'''model = dict({BACKBONE},
    decode_head=dict(in_channels={CHANNELS[3]}, channels=16, dilations=(1, 2, 3, 4), num_classes=5,
                     norm_cfg={BN!r}),
    auxiliary_head=dict(in_channels={CHANNELS[2]}, channels=8, num_classes=5, norm_cfg={BN!r}))''',
}


def load(tmp_path, base: str, extra: str = '') -> Config:
    path = tmp_path / f'mambavision_{base}'
    path.write_text(f"_base_ = ['mmseg::_base_/models/{base}']\n"
                    "custom_imports = dict(imports=['mmvision_mamba'], allow_failed_imports=False)\n"
                    f'{DROP_IN[base]}\n{extra}\n')
    return Config.fromfile(str(path))


def build(cfg: Config):
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg.model)


@pytest.fixture(scope='module', autouse=True)
def mmseg_scope():
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('mmseg')


@pytest.mark.parametrize('base', sorted(DROP_IN))
def test_resnet_config_with_mambavision_builds_and_runs(tmp_path, base: str) -> None:
    from mmseg.structures import SegDataSample
    cfg = load(tmp_path, base)
    assert cfg.model.pretrained == 'open-mmlab://resnet50_v1c'  # left as the base has it
    with pytest.warns(UserWarning, match='pretrained is deprecated'):
        model = build(cfg)
    assert isinstance(model.backbone, MambaVision)
    assert model.backbone.init_cfg == dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')

    inputs = torch.randn(2, 3, 48, 40)
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(48, 40), ori_shape=(48, 40), pad_shape=(48, 40)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, 48, 40)))
        samples.append(sample)
    model.train()
    losses = model.loss(inputs, samples)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.patch_embed.conv_down[0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        preds = model.predict(inputs, samples)
    assert [p.pred_sem_seg.data.shape for p in preds] == [(1, 48, 40)] * 2

    # init_weights() loads model.pretrained: the ResNet weights are refused with what to do
    with pytest.raises(ValueError, match=r"'open-mmlab://resnet50_v1c' names a checkpoint of the "
                                         r'mmengine/torchvision model zoo.*set model\.pretrained=None'):
        model.init_weights()


def test_pretrained_none_and_init_cfg(tmp_path) -> None:
    cfg = load(tmp_path, 'upernet_r50.py', 'model.update(pretrained=None)')
    model = build(cfg)
    assert model.backbone.init_cfg is None
    # both: the base's ResNet `pretrained` and a MambaVision init_cfg
    cfg = load(tmp_path, 'upernet_r50.py',
               "model['backbone']['init_cfg'] = dict(type='Pretrained', checkpoint='mv.pth')")
    with pytest.raises(ValueError, match=r'both init_cfg=.*and pretrained=.*model\.pretrained=None'):
        build(cfg)


def test_pretrained_argument() -> None:
    with pytest.warns(UserWarning, match='pretrained is deprecated'):
        model = MambaVision(ARCH, pretrained='mambavision_tiny_1k.pth.tar')
    assert model.init_cfg == dict(type='Pretrained', checkpoint='mambavision_tiny_1k.pth.tar')
    assert MambaVision(ARCH, pretrained=None).init_cfg is None
    with pytest.raises(TypeError, match='pretrained must be a str'):
        MambaVision(ARCH, pretrained=1)
    with pytest.raises(ValueError, match='both init_cfg'):
        MambaVision(ARCH, pretrained='a.pth', init_cfg=dict(type='Pretrained', checkpoint='b.pth'))
