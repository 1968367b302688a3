"""Every config under configs/ loads, builds its full-size model and runs a tiny CPU forward.

Nothing is downloaded: the backbone's init_cfg is set to None. The full-size model of each config
is only built. For the forward tests (loss + backward, then predict on one 64x64 image) the
backbone is shrunk to a small custom arch with small windows and the neck/heads' input channels
follow it; SyncBN (cascade bbox heads, UperNet/FCN heads) is replaced by BN, since SyncBN cannot
train outside a distributed CPU/GPU process group; the query-based heads (DINO, Mask2Former) get
fewer queries, transformer layers and sampled points. The tiny model is initialised (init_weights)
as training would: without their own initialisation the DETR-style heads can give inf / NaN
matching costs.
"""
from pathlib import Path

import pytest
import torch

from mmvision_mamba.apis.config_checks import sync_bn_to_bn
from mmvision_mamba.testing import demo_det_inputs, demo_seg_inputs

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs'
DET_CONFIGS = sorted((CONFIG_DIR / 'det').glob('*.py'))
SEG_CONFIGS = sorted((CONFIG_DIR / 'seg').glob('*.py'))
ALL_CONFIGS = DET_CONFIGS + SEG_CONFIGS

# dim 16: level widths 16, 32, 64, 128
SMALL_ARCH = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 2, 2, 4))
SMALL_CHANNELS = [16, 32, 64, 128]
SMALL_WINDOWS = (8, 8, 4, 2)  # one window per level for a 64x64 image, as the recipes do at full size
# window_mode='fit' configs keep windows larger than the maps, which fit mode clips to them
FIT_WINDOWS = (8, 8, 112, 56)

HF = 'https://huggingface.co/nvidia/'
CKPT = {
    'T': HF + 'MambaVision-T-1K/resolve/main/mambavision_tiny_1k.pth.tar',
    'S': HF + 'MambaVision-S-1K/resolve/main/mambavision_small_1k.pth.tar',
    'B': HF + 'MambaVision-B-1K/resolve/main/mambavision_base_1k.pth.tar',
    'L3': HF + 'MambaVision-L3-512-21K/resolve/main/mambavision_L3_21k_740m_512.pth.tar',
}
ARCH = {'T': 'tiny', 'S': 'small', 'B': 'base', 'L3': 'large3'}
LAYER_SCALE = {'T': None, 'S': None, 'B': 1e-5, 'L3': 1e-5}

# name -> (variant, backbone windows, lr, weight decay, optim wrapper, epochs, milestones)
_DET_WIN, _AMP = (8, 8, 112, 56), 'AmpOptimWrapper'
DET_RECIPES = {
    'mask_rcnn_mambavision_t': ('T', _DET_WIN, 1e-4, 0.05, _AMP, 12, [8, 11]),
    'mask_rcnn_mambavision_s': ('S', _DET_WIN, 1e-4, 0.05, _AMP, 12, [8, 11]),
    'mask_rcnn_mambavision_b': ('B', _DET_WIN, 1e-4, 0.05, _AMP, 12, [8, 11]),
    'mask_rcnn_mambavision_t_3x': ('T', _DET_WIN, 1e-4, 0.05, _AMP, 36, [27, 33]),
    'mask_rcnn_mambavision_s_3x': ('S', _DET_WIN, 1e-4, 0.05, _AMP, 36, [27, 33]),
    'mask_rcnn_mambavision_b_3x': ('B', _DET_WIN, 1e-4, 0.05, _AMP, 36, [27, 33]),
    'cascade_mask_rcnn_mambavision_t_3x': ('T', _DET_WIN, 1e-4, 0.05, _AMP, 36, [27, 33]),
    'cascade_mask_rcnn_mambavision_s_3x': ('S', _DET_WIN, 1e-4, 0.05, _AMP, 36, [27, 33]),
    'cascade_mask_rcnn_mambavision_b_3x': ('B', _DET_WIN, 2e-4, 0.05, _AMP, 36, [27, 33]),
}
# name -> (variant, backbone windows, lr, weight decay, optim wrapper, iterations, crop size)
SEG_RECIPES = {
    'upernet_mambavision_t_512x512_160k_ade20k':
        ('T', (8, 8, 64, 32), 5e-5, 0.01, _AMP, 160000, (512, 512)),
    'upernet_mambavision_s_512x512_160k_ade20k':
        ('S', (8, 8, 160, 56), 6e-5, 0.01, _AMP, 160000, (512, 512)),
    'upernet_mambavision_b_512x512_160k_ade20k':
        ('B', (8, 8, 64, 32), 5e-5, 0.01, _AMP, 160000, (512, 512)),
    'upernet_mambavision_l3_640x640_160k_ade20k':
        ('L3', (8, 8, 64, 32), 8e-5, 0.05, 'OptimWrapper', 160000, (640, 640)),
}

# query-based heads (no official checkpoint: windows 'fit'), name -> (variant, epochs or iterations)
QUERY_RECIPES = {
    'dino_5scale_mambavision_b_12e_coco': ('B', 12),
    'dino_5scale_mambavision_b_36e_coco': ('B', 36),
    'dino_5scale_mambavision_l3_12e_coco': ('L3', 12),
    'dino_5scale_mambavision_l3_36e_coco': ('L3', 36),
    'mask2former_mambavision_b_lsj_50e_coco': ('B', 368750),
    'mask2former_mambavision_l3_lsj_50e_coco': ('L3', 368750),
    'mask2former_mambavision_b_640x640_160k_ade20k': ('B', 160000),
    'mask2former_mambavision_l3_640x640_160k_ade20k': ('L3', 160000),
}


def _ids(paths):
    return [p.stem for p in paths]


def _is_det(path: Path) -> bool:
    return path.parent.name == 'det'


def _require_codebase(path: Path) -> None:
    """Skips when the config's codebase (mmdet / mmseg) is missing (its `mmdet::` bases too)."""
    pytest.importorskip('mmdet' if _is_det(path) else 'mmseg')


def _load_raw(path: Path):
    _require_codebase(path)
    from mmengine.config import Config
    return Config.fromfile(str(path))


def _load(path: Path):
    cfg = _load_raw(path)
    cfg.model.backbone.init_cfg = None  # no downloads
    return cfg


def _build(path: Path, cfg):
    from mmvision_mamba.apis import init_model
    _require_codebase(path)
    return init_model(cfg)



def _in_channels_owner(model):
    """The part of a model config that takes the backbone's levels: the neck, else the head."""
    for key in ('neck', 'panoptic_head', 'decode_head'):
        if key in model:
            return model[key]
    raise KeyError(f'no neck or head in {sorted(model)}')


def _shrink_mask2former_head(head) -> None:
    head.num_queries = 20
    head.pixel_decoder.encoder.num_layers = 1
    head.transformer_decoder.num_layers = 3  # one per feature level


def _shrink(path: Path, cfg) -> None:
    backbone = cfg.model.backbone
    backbone.arch = SMALL_ARCH
    backbone.window_size = FIT_WINDOWS if backbone.get('window_mode') == 'fit' else SMALL_WINDOWS
    _in_channels_owner(cfg.model).in_channels = SMALL_CHANNELS
    # query-based heads: fewer queries, transformer layers and sampled points
    if cfg.model.type == 'DINO':
        cfg.model.update(num_queries=50, encoder=dict(num_layers=1), decoder=dict(num_layers=2))
        cfg.model.dn_cfg.group_cfg.num_dn_queries = 10
    elif cfg.model.type == 'Mask2Former':  # mmdet's
        cfg.model.data_preprocessor.batch_augments[0].size = (64, 64)  # LSJ pads to 1024x1024
        _shrink_mask2former_head(cfg.model.panoptic_head)
        cfg.model.train_cfg.num_points = 1024
    elif cfg.model.get('decode_head', {}).get('type') == 'Mask2FormerHead':  # mmseg's
        _shrink_mask2former_head(cfg.model.decode_head)
        cfg.model.decode_head.train_cfg.num_points = 1024
        cfg.model.data_preprocessor.size = (64, 64)
    elif _is_det(path):
        # fewer proposals / sampled RoIs: the cascade's 4-conv heads on 1000 RoIs x 3 stages
        # would dominate the CPU time
        train_cfg, test_cfg = cfg.model.train_cfg, cfg.model.test_cfg
        train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=64)
        rcnn = train_cfg.rcnn if isinstance(train_cfg.rcnn, list) else [train_cfg.rcnn]
        for stage in rcnn:
            stage.sampler.num = 32
        test_cfg.rpn.update(nms_pre=200, max_per_img=32)
    else:
        cfg.model.auxiliary_head.in_channels = SMALL_CHANNELS[cfg.model.auxiliary_head.in_index]
        cfg.model.data_preprocessor.size = (64, 64)
    # SyncBN (cascade bbox heads, UperNet / FCN heads) needs a process group to train: use BN
    sync_bn_to_bn(cfg.model)


def _det_batch():
    return demo_det_inputs(1, (64, 64), num_boxes=1)


def _seg_batch(num_images=1):
    return demo_seg_inputs(num_images, (64, 64))


RECIPE_CONFIGS = [p for p in ALL_CONFIGS if p.stem in DET_RECIPES or p.stem in SEG_RECIPES]
FIT_CONFIGS = [p for p in ALL_CONFIGS if p.stem.endswith('_fit')]
QUERY_CONFIGS = [p for p in ALL_CONFIGS if p.stem in QUERY_RECIPES]
# with the small backbone and 2 iterations, an L3 or 36-epoch query config trains exactly as its B 12-epoch
# config (only the backbone arch, its checkpoint and the schedule's later milestones differ): the e2e tests
# (tests/test_tools/test_e2e_query_heads.py) train one of each recipe; test_tiny_forward takes every config
QUERY_E2E_CONFIGS = [p for p in QUERY_CONFIGS if '_l3_' not in p.stem and '_36e_' not in p.stem]


def test_config_set():
    """All the benchmark recipes are there (other configs, e.g. quickstarts, may be too)."""
    missing = (set(DET_RECIPES) | set(SEG_RECIPES)) - set(_ids(RECIPE_CONFIGS))
    assert not missing, missing


@pytest.mark.parametrize('path', RECIPE_CONFIGS, ids=_ids(RECIPE_CONFIGS))
def test_config_recipe(path):
    """The key numbers of each recipe (see configs/README.md)."""
    cfg = _load_raw(path)
    backbone = cfg.model.backbone
    assert cfg.custom_imports == dict(imports=['mmvision_mamba'], allow_failed_imports=False)
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'  # whole files, mmdet's/mmseg's interval
    assert backbone.type == 'MambaVision' and backbone.out_indices == (0, 1, 2, 3)
    assert backbone.drop_path_rate == 0.2  # what the official runs effectively used
    assert backbone.init_cfg.type == 'Pretrained'
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW' and optim.optimizer.betas == (0.9, 0.999)
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 16
    if _is_det(path):
        variant, windows, lr, wd, wrapper, epochs, milestones = DET_RECIPES[path.stem]
        assert cfg.default_scope == 'mmdet'
        assert cfg.train_cfg.max_epochs == epochs
        warmup, steps = cfg.param_scheduler
        assert (warmup.type, warmup.end, warmup.by_epoch) == ('LinearLR', 1000, False)
        assert steps.type == 'MultiStepLR' and steps.milestones == milestones
        assert cfg.model.neck.type == 'FPN' and cfg.model.neck.out_channels == 256
        if path.stem.startswith('cascade'):
            assert cfg.model.type == 'CascadeRCNN'
            for head in cfg.model.roi_head.bbox_head:
                assert (head.type, head.num_shared_convs, head.num_shared_fcs) == ('ConvFCBBoxHead', 4, 1)
                assert head.norm_cfg.type == 'SyncBN' and head.reg_decoded_bbox
                assert (head.loss_bbox.type, head.loss_bbox.loss_weight) == ('GIoULoss', 10.0)
            assert optim.paramwise_cfg == dict(custom_keys={'norm': dict(decay_mult=0.)})
        else:
            assert cfg.model.type == 'MaskRCNN'
            assert optim.paramwise_cfg.norm_decay_mult == 0.
            assert {k: v.decay_mult for k, v in optim.paramwise_cfg.custom_keys.items()} == \
                {'A_log': 0., 'mixer.D': 0.}
        if epochs == 36:  # DETR-style multi-scale + crop
            assert cfg.train_dataloader.dataset.pipeline[3].type == 'RandomChoice'
    else:
        variant, windows, lr, wd, wrapper, iters, crop = SEG_RECIPES[path.stem]
        assert cfg.default_scope == 'mmseg'
        assert cfg.train_cfg.max_iters == iters and cfg.crop_size == crop
        assert cfg.model.data_preprocessor.size == crop
        warmup, poly = cfg.param_scheduler
        assert (warmup.type, warmup.end, poly.type, poly.begin, poly.end, poly.power, poly.eta_min) == \
            ('LinearLR', 1500, 'PolyLR', 1500, 160000, 1.0, 0.0)
        head, aux = cfg.model.decode_head, cfg.model.auxiliary_head
        assert (head.type, head.channels, head.num_classes) == ('UPerHead', 512, 150)
        assert (aux.type, aux.in_index, aux.num_classes) == ('FCNHead', 2, 150)
        assert aux.loss_decode.loss_weight == 0.4
        assert optim.paramwise_cfg == dict(custom_keys={'norm': dict(decay_mult=0.)})
    assert backbone.arch == ARCH[variant] and backbone.layer_scale == LAYER_SCALE[variant]
    assert backbone.window_size == windows
    assert backbone.init_cfg.checkpoint == CKPT[variant]
    assert (optim.type, optim.optimizer.lr, optim.optimizer.weight_decay) == (wrapper, lr, wd)


def test_fit_config_set():
    assert {p.stem for p in FIT_CONFIGS} == {
        'mask_rcnn_mambavision_t_fit', 'cascade_mask_rcnn_mambavision_t_3x_fit',
        'upernet_mambavision_t_512x512_160k_ade20k_fit'}


@pytest.mark.parametrize('path', FIT_CONFIGS, ids=_ids(FIT_CONFIGS))
def test_fit_config_changes_only_the_window_mode(path):
    """A `*_fit.py` config is its recipe with backbone.window_mode='fit', nothing else."""
    fit = _load_raw(path).to_dict()
    base = _load_raw(path.with_name(path.stem[:-len('_fit')] + '.py')).to_dict()
    assert base['model']['backbone'].get('window_mode', 'official') == 'official'
    assert fit['model']['backbone'].pop('window_mode') == 'fit'
    assert fit == base


def test_query_config_set():
    assert set(_ids(QUERY_CONFIGS)) == set(QUERY_RECIPES)


@pytest.mark.parametrize('path', QUERY_CONFIGS, ids=_ids(QUERY_CONFIGS))
def test_query_config_recipe(path):
    """The key numbers of the DINO / Mask2Former configs: their mmdet / mmseg Swin recipes'."""
    cfg = _load_raw(path)
    variant, length = QUERY_RECIPES[path.stem]
    backbone, optim = cfg.model.backbone, cfg.optim_wrapper
    assert 'mmvision_mamba' in cfg.custom_imports.imports
    assert backbone.type == 'MambaVision' and backbone.out_indices == (0, 1, 2, 3)
    assert backbone.arch == ARCH[variant] and backbone.layer_scale == LAYER_SCALE[variant]
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=CKPT[variant])
    assert (backbone.window_size, backbone.window_mode) == ((8, 8, 112, 56), 'fit')
    assert optim.type == 'OptimWrapper' and optim.optimizer.type == 'AdamW' and optim.optimizer.lr == 1e-4
    assert optim.paramwise_cfg.custom_keys['backbone'].lr_mult == 0.1
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 16
    if cfg.model.type == 'DINO':
        assert backbone.drop_path_rate == 0.2 and backbone.with_cp
        assert cfg.model.num_feature_levels == 5 and cfg.model.num_queries == 900
        assert (cfg.model.neck.type, cfg.model.neck.num_outs) == ('ChannelMapper', 5)  # + a stride-64 level
        assert cfg.model.encoder.layer_cfg.self_attn_cfg.num_levels == 5
        assert cfg.model.decoder.layer_cfg.cross_attn_cfg.num_levels == 5
        assert (optim.optimizer.weight_decay, optim.clip_grad.max_norm) == (1e-4, 0.1)
        assert cfg.train_cfg.max_epochs == length
        assert cfg.param_scheduler[0].milestones == ([11] if length == 12 else [27, 33])
    else:
        assert backbone.drop_path_rate == 0.3
        assert (optim.optimizer.weight_decay, optim.clip_grad.max_norm) == (0.05, 0.01)
        assert cfg.train_cfg.max_iters == length
        if _is_det(path):  # instance segmentation only, large-scale jittering at 1024x1024
            assert cfg.model.type == 'Mask2Former' and not cfg.model.test_cfg.panoptic_on
            assert cfg.model.panoptic_head.num_things_classes == 80
            assert cfg.model.panoptic_head.num_stuff_classes == 0
            assert cfg.model.data_preprocessor.batch_augments[0].size == (1024, 1024)
            assert cfg.train_dataloader.dataset.data_prefix == dict(img='train2017/')  # no panoptic maps
            assert cfg.val_evaluator.type == 'CocoMetric' and cfg.val_evaluator.metric == ['bbox', 'segm']
        else:
            assert cfg.model.decode_head.type == 'Mask2FormerHead' and cfg.model.decode_head.num_classes == 150
            assert cfg.crop_size == cfg.model.data_preprocessor.size == (640, 640)


@pytest.mark.parametrize('path', [p for p in QUERY_CONFIGS if p.stem.startswith('mask2former')],
                         ids=[p.stem for p in QUERY_CONFIGS if p.stem.startswith('mask2former')])
def test_mask2former_param_groups(path):
    """Full-size model: the backbone at lr x0.1, with no weight decay on its norms,
    layer scales, A_log and D, as the Swin recipes exempt their norms; no decay on the query / level
    embeddings either."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    cfg = _load(path)
    model = _build(path, cfg)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
    base = optim.optimizer.defaults
    names = {id(p): n for n, p in model.named_parameters()}
    lr_wd = {names[id(p)]: (g['lr'], g['weight_decay']) for g in optim.optimizer.param_groups for p in g['params']}
    assert len(lr_wd) == len(names)
    exempt = ('.norm', '.gamma_', '.A_log', '.D', 'outnorm', 'conv_down.1.', 'conv_down.4.')
    for name, (lr, wd) in lr_wd.items():
        if name.startswith('backbone.'):
            no_decay = any(key in name for key in exempt)
            assert (lr, wd) == pytest.approx((0.1 * base['lr'], 0. if no_decay else base['weight_decay'])), name
        elif any(key in name for key in ('query_embed', 'query_feat', 'level_embed')):
            assert (lr, wd) == (base['lr'], 0.), name


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=_ids(ALL_CONFIGS))
def test_full_size_model_builds(path):
    """The config's real model builds, and its neck/heads take the backbone's channels."""
    cfg = _load(path)
    model = _build(path, cfg)
    channels = list(model.backbone.out_channels)
    assert _in_channels_owner(cfg.model).in_channels == channels
    if 'auxiliary_head' in cfg.model:
        assert cfg.model.auxiliary_head.in_channels == channels[2]
    assert model.backbone.window_size == tuple(cfg.model.backbone.window_size)
    assert model.backbone.window_mode == cfg.model.backbone.get('window_mode', 'official')


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=_ids(ALL_CONFIGS))
def test_tiny_forward(path):
    """Loss forward + backward and predict forward of the config's model with a small backbone."""
    cfg = _load(path)
    _shrink(path, cfg)
    model = _build(path, cfg)
    model.init_weights()
    batch = _det_batch if _is_det(path) else _seg_batch

    model.train()
    # two images for mmseg: the PPM's 1x1 pooled branch cannot batch-normalise a single one
    data = model.data_preprocessor(batch() if _is_det(path) else batch(2), True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss), losses
    loss.backward()
    assert model.backbone.patch_embed.conv_down[0].weight.grad is not None

    model.eval()
    with torch.no_grad():
        results = model.test_step(batch())
    assert len(results) == 1
    if _is_det(path):
        pred = results[0].pred_instances
        assert pred.bboxes.shape[-1] == 4 and len(pred.scores) == len(pred.bboxes)
        if cfg.model.type != 'DINO':  # a box-only detector
            assert len(pred.masks) == len(pred.bboxes)
    else:
        assert results[0].pred_sem_seg.data.shape == (1, 64, 64)


@pytest.mark.parametrize('name', ['mask_rcnn_mambavision_b', 'cascade_mask_rcnn_mambavision_t_3x',
                                  'upernet_mambavision_t_512x512_160k_ade20k'])
def test_weight_decay_rules(name):
    """The paramwise_cfg of the recipes exempts what their comments say (small backbone)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    path = next(p for p in ALL_CONFIGS if p.stem == name)
    cfg = _load(path)
    _shrink(path, cfg)
    cfg.model.backbone.arch = dict(SMALL_ARCH, layer_scale=1e-5)
    cfg.model.backbone.layer_scale = 'arch'  # the T configs say None: no layer scale
    model = _build(path, cfg)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        optim = build_optim_wrapper(model, dict(cfg.optim_wrapper, type='OptimWrapper'))  # AMP needs a GPU
    wd = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            wd[names[id(p)]] = group['weight_decay']
    base = cfg.optim_wrapper.optimizer.weight_decay
    exempt = ['backbone.levels.0.blocks.0.norm1.weight', 'backbone.levels.2.blocks.0.norm1.weight',
              'backbone.outnorm0.weight']
    decayed = ['backbone.levels.0.blocks.0.conv1.weight', 'backbone.levels.2.blocks.1.mixer.qkv.weight',
               'backbone.levels.2.blocks.0.mixer.in_proj.weight', 'backbone.levels.2.blocks.0.gamma_1']
    if name.startswith('mask_rcnn'):  # also the stem BatchNorms (by type) and the SSM's A_log / D
        exempt += ['backbone.patch_embed.conv_down.1.weight', 'backbone.levels.2.blocks.0.mixer.A_log',
                   'backbone.levels.2.blocks.0.mixer.D']
    else:  # the official recipes: by name ('norm') only
        decayed += ['backbone.patch_embed.conv_down.1.weight', 'backbone.levels.2.blocks.0.mixer.A_log']
    for key in exempt:
        assert wd[key] == 0., key
    for key in decayed:
        assert wd[key] == base, key
