"""MambaVision in mmdet's / mmseg's own configs (mmvision_mamba.testing.dropin_matrix.MATRIX): each architecture,
from its base config with the backbone replaced and the keys of the table set, builds and trains a step on a
synthetic batch; with the base's ResNet channels left in, the config check names each key and its value, and so
does building the model (what mmdet's / mmseg's own tools/train.py meet); the docs table is the rendered one.

The model is small (a dim-16 arch, 64x64 images); only what makes the step cheap changes (fewer queries, layers
and sampled points), and SyncBN becomes BN as mmengine's runner does outside a distributed run.
"""
import re
import time
from typing import Callable, Dict

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope

from mmvision_mamba.models import MambaVision
from mmvision_mamba.testing import demo_seg_inputs
from mmvision_mamba.testing.dropin_matrix import MATRIX, PAGE, DropIn, render_page
from mmvision_mamba.apis.config_checks import check_backbone_channels, sync_bn_to_bn

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')

SMALL = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 2, 2, 4))
SIZE = 64
SHIPPED = {'Mask R-CNN', 'Cascade Mask R-CNN', 'DINO', 'Mask2Former', 'UperNet'}



def _fewer_queries_m2f(model: ConfigDict) -> None:
    model.data_preprocessor.batch_augments[0].size = (SIZE, SIZE)  # LSJ pads to 1024x1024
    head = model.panoptic_head
    head.update(num_queries=20)
    head.pixel_decoder.encoder.num_layers = 1
    head.transformer_decoder.num_layers = 3  # one per feature level
    model.train_cfg.num_points = 1024


def _fewer_layers_detr(model: ConfigDict) -> None:
    model.update(num_queries=20, encoder=dict(num_layers=1), decoder=dict(num_layers=2))


def _fewer_rois(model: ConfigDict) -> None:
    """Fewer proposals and sampled RoIs (512 per image through a 12544 x 1024 fc would dominate)."""
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=64)
    for stage in model.train_cfg.rcnn if isinstance(model.train_cfg.rcnn, list) else [model.train_cfg.rcnn]:
        stage.sampler.num = 32


#: architecture -> what makes its training step cheap (test only: not what a user sets)
CHEAPER: Dict[str, Callable[[ConfigDict], None]] = {
    'Faster R-CNN': _fewer_rois,
    'Cascade R-CNN': _fewer_rois,
    'PointRend (instance)': _fewer_rois,
    'YOLOX': lambda m: m.data_preprocessor.update(batch_augments=None),  # random resizes up to 800 px
    'Mask2Former (panoptic)': _fewer_queries_m2f,
    'DETR': _fewer_layers_detr,
    'Conditional DETR': _fewer_layers_detr,
    'DAB-DETR': _fewer_layers_detr,
    'Deformable DETR': _fewer_layers_detr,
    'Sparse R-CNN': lambda m: m.rpn_head.update(num_proposals=20),
    'SOLOv2': lambda m: m.mask_head.update(feat_channels=64, stacked_convs=1),  # 4 x 512-channel convs on 40x40
}
#: architectures that train on instance masks (the others' assigners may not take them)
MASKS = {'PointRend (instance)', 'SOLOv2', 'RTMDet-Ins', 'Mask2Former (panoptic)'}


def load(case: DropIn, tmp_path, arch, patch: bool = True) -> Config:
    """The base config with `backbone=dict(_delete_=True, type='MambaVision', arch=arch)` and, with `patch`,
    the table's keys set as `--cfg-options` sets them."""
    path = tmp_path / 'dropin.py'
    path.write_text(f'_base_ = [{case.base!r}]\n'
                    "custom_imports = dict(imports=['mmvision_mamba'], allow_failed_imports=False)\n")
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict({'model.backbone': dict(_delete_=True, type='MambaVision', arch=arch)})
    if patch:
        to_set = case.to_set(MambaVision.arch_channels(arch))
        cfg.merge_from_dict({f'model.{key}': value for key, value in to_set.items()})
    return cfg


def build(case: DropIn, cfg: Config):
    if case.library == 'mmdet':
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
    else:
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope(case.library):
        return MODELS.build(cfg.model)


def batch(case: DropIn) -> dict:
    """Two synthetic 64x64 images with boxes, masks and (panoptic) semantic maps (mmdet's demo inputs, which have
    those), or segmentation maps."""
    if case.library == 'mmdet':
        from mmdet.testing import demo_mm_inputs
        return demo_mm_inputs(2, (3, SIZE, SIZE), num_items=[2, 3], with_mask=case.architecture in MASKS,
                              with_semantic='panoptic' in case.architecture)
    return demo_seg_inputs(2, (SIZE, SIZE), num_classes=19)  # the mmseg bases' 19 classes (Cityscapes)


def _named(key: str) -> str:
    """A dotted table key as the check names it: list items by index in brackets."""
    return 'model.' + re.sub(r'\.(\d+)\.', r'[\1].', key)


def _shown(value) -> str:
    return repr(list(value) if isinstance(value, tuple) else value)


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One thread: these small models' ops gain nothing from more, and lose several-fold when other processes
    share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_matrix() -> None:
    names = [case.architecture for case in MATRIX]
    assert len(names) == len(set(names)) >= 20
    assert not SHIPPED & set(names)
    assert set(CHEAPER) <= set(names)


@pytest.mark.parametrize('case', MATRIX, ids=[c.architecture for c in MATRIX])
def test_dropin_trains_and_wrong_channels_are_named(case: DropIn, tmp_path) -> None:
    start = time.perf_counter()
    # with the table's keys set: builds, one SGD step on a synthetic batch
    cfg = load(case, tmp_path, SMALL)
    cfg.model.backbone.window_size = (8, 8, 4, 2)  # one window per hybrid level at 64x64
    assert check_backbone_channels(cfg) is None
    sync_bn_to_bn(cfg.model)
    CHEAPER.get(case.architecture, lambda m: None)(cfg.model)
    if case.library == 'mmseg':
        cfg.model.data_preprocessor.size = (SIZE, SIZE)  # the crop size, which a data set config sets
    model = build(case, cfg)
    assert isinstance(model.backbone, MambaVision)
    model.init_weights()
    model.train()
    stem = model.backbone.patch_embed.conv_down[0].weight
    before = stem.detach().clone()
    log_vars = model.train_step(batch(case), OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01)))
    assert torch.isfinite(log_vars['loss']), log_vars
    assert torch.isfinite(stem).all() and not torch.equal(stem, before), 'no gradient reached the backbone'

    # ResNet's channels left in: the check names every key with its value and the value to set (MambaVision-T)
    unpatched = load(case, tmp_path, 'tiny', patch=False)
    message = check_backbone_channels(unpatched)
    assert message is not None
    for key, value in case.to_set(MambaVision.arch_channels('tiny')).items():
        if key in case.channels:
            old = unpatched.model
            for part in key.split('.'):
                old = old[int(part)] if isinstance(old, list) else old[part]
            assert f'{_named(key)}={_shown(old)}' in message, message
            if key.replace('in_channels', 'in_index') not in case.settings:  # else the check cannot know it
                assert f'{_named(key)}={_shown(value)}' in message, message
        elif key == 'backbone.out_indices':
            assert f'model.backbone.out_indices={value}' in message, message
    # ... and building the model stops at the backbone with the same message (mmdet's / mmseg's tools/train.py)
    unpatched.model.backbone.arch = SMALL
    with pytest.raises(ValueError) as error:
        build(case, unpatched)
    assert check_backbone_channels(unpatched) in str(error.value)
    print(f'{case.architecture}: {time.perf_counter() - start:.2f} s')


def test_docs_table_is_rendered_from_the_matrix() -> None:
    text = PAGE.read_text(encoding='utf-8')
    assert render_page(text) == text, 'run: python -m mmvision_mamba.testing.dropin_matrix'
    for case in MATRIX:
        assert f'| {case.architecture} | `{case.base}` |' in text
