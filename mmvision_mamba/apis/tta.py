"""Test-time augmentation (tools/test.py --tta): the config's model wrapped in mmseg's SegTTAModel or
mmdet's DetTTAModel, its test pipeline replaced by a multi-scale + flip one.

A config's own `tta_model` / `tta_pipeline` are used as they are; without them the TTA pipeline is
derived from the test pipeline: its `Resize(scale=S)` becomes one view per ratio r (scale S x r), each
also flipped horizontally, and the transforms after the Resize run on every view.
"""
import copy
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict

from ..utils.config_type import type_name
from .config_checks import test_dataset

#: mmseg's ADE20K / Cityscapes multi-scale ratios (the leaderboard's "MS + flip")
SEG_RATIOS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
#: shorter sides 600 / 800 / 1000 for the COCO test scale (1333, 800)
DET_RATIOS = (0.75, 1.0, 1.25)

DET_TTA_MODEL = dict(type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
SEG_TTA_MODEL = dict(type='SegTTAModel')
# mmdet's DetTTAModel flips boxes back with these
_FLIP_KEYS = ('flip', 'flip_direction')
# model parts whose masks DetTTAModel cannot merge and that cannot be taken out of the model
_MASK_ONLY_HEADS = ('panoptic_head', 'panoptic_fusion_head', 'mask_head')


def _scaled(scale, ratio: float) -> Tuple[int, int]:
    w, h = (scale, scale) if isinstance(scale, int) else scale
    return int(w * ratio), int(h * ratio)


def derive_tta_pipeline(test_pipeline: Sequence[dict], ratios: Sequence[float]) -> List[dict]:
    """The multi-scale + flip version of a test pipeline (mmseg 0.x's MultiScaleFlipAug meaning).

    Args:
        test_pipeline: transforms with exactly one `Resize` that has a `scale`.
        ratios: multipliers of that scale, one view (and its flip) each.

    Returns:
        The transforms before the Resize, then a `TestTimeAug` over [resizes] x [no flip, flip] x the
        transforms after the Resize.
    """
    resizes = [i for i, t in enumerate(test_pipeline) if type_name(t) == 'Resize' and t.get('scale')]
    if len(resizes) != 1:
        raise ValueError(
            f'--tta derives its views from the test pipeline\'s Resize(scale=...), but the test pipeline has '
            f'{len(resizes)} such transforms ({[type_name(t) for t in test_pipeline]}). Give the config a '
            '`tta_pipeline` (a TestTimeAug, as in mmseg\'s configs/_base_/datasets/ade20k.py).')
    i = resizes[0]
    resize = test_pipeline[i]
    views = [dict(copy.deepcopy(resize), scale=_scaled(resize['scale'], r)) for r in ratios]
    flips = [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')]
    after = []
    for t in test_pipeline[i + 1:]:
        t = copy.deepcopy(t)
        if type_name(t) == 'PackDetInputs' and 'meta_keys' in t:
            t['meta_keys'] = tuple(t['meta_keys']) + tuple(k for k in _FLIP_KEYS if k not in t['meta_keys'])
        after.append([t])
    return copy.deepcopy(list(test_pipeline[:i])) + [dict(type='TestTimeAug', transforms=[views, flips] + after)]


def _drop_mask_head(cfg: Config) -> str:
    """Takes the mask branch out of a two-stage detector and its metric; returns what was done."""
    roi_head = cfg.model.get('roi_head') or {}
    if not roi_head.get('mask_head'):
        return 'the model predicts boxes only'
    roi_head['mask_head'] = None
    roi_head['mask_roi_extractor'] = None
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
    for ev in evaluators:
        if type_name(ev) == 'CocoMetric':
            ev['metric'] = ['bbox']
    return ('mask head dropped: boxes only (the checkpoint\'s mask-head weights are not loaded, mmengine '
            'lists them as unexpected keys)')


def _wants_masks(cfg: Config) -> bool:
    """Whether the config's model predicts masks that are not a two-stage detector's mask head."""
    if any(cfg.model.get(k) for k in _MASK_ONLY_HEADS):
        return True
    evaluators = cfg.get('test_evaluator') or []
    for ev in evaluators if isinstance(evaluators, list) else [evaluators]:
        metric = ev.get('metric', ())
        if 'segm' in ([metric] if isinstance(metric, str) else metric):
            return True
    return False


def _mask_problem(cfg: Config, box_only: bool) -> Optional[str]:
    """Why DetTTAModel cannot augment this model as it is, or None."""
    if (cfg.model.get('roi_head') or {}).get('mask_head'):
        if box_only:
            return None
        return ('--tta: mmdet 3.3\'s DetTTAModel merges boxes only, and this model also predicts instance masks. '
                'Add --tta-box-only to run box TTA without the mask head (box AP / bbox results only), or leave out '
                '--tta for boxes and masks at a single scale.')
    if _wants_masks(cfg):
        return ('--tta: this model predicts masks (its test evaluator asks for segm, or it has a mask / panoptic '
                'head) and mmdet 3.3\'s DetTTAModel merges boxes only; as its masks cannot be taken out of the '
                'model, it cannot be test-time augmented. Run without --tta.')
    return None


def apply_tta(cfg: Config, box_only: bool = False) -> str:
    """Makes `cfg` test with test-time augmentation, as mmdet's and mmseg's `tools/test.py --tta` do.

    Args:
        cfg: an mmdet or mmseg config, changed in place: `model` becomes `tta_model` around it and the
            test dataset's pipeline becomes `tta_pipeline` (the config's, else derived from its test
            pipeline with `SEG_RATIOS` / `DET_RATIOS`).
        box_only: detection: run box TTA on a model with a mask head by removing that head.

    Returns:
        A line that says what is augmented.

    Raises:
        ValueError: naming what keeps the config from being augmented and what to do.
    """
    scope = cfg.get('default_scope')
    if scope not in ('mmdet', 'mmseg'):
        raise ValueError(f"--tta runs mmdet and mmseg configs; this config's default_scope is {scope!r}.")
    dataset = test_dataset(cfg)
    if dataset is None:
        raise ValueError('--tta: the config has no test_dataloader.dataset to augment.')
    if scope == 'mmseg' and box_only:
        raise ValueError('--tta-box-only is for detectors with a mask head; use --tta for segmentation.')
    problem = _mask_problem(cfg, box_only) if scope == 'mmdet' else None
    if problem:
        raise ValueError(problem)
    pipeline = cfg.get('tta_pipeline')
    source = "the config's tta_pipeline"
    if not pipeline:
        ratios = DET_RATIOS if scope == 'mmdet' else SEG_RATIOS
        pipeline = derive_tta_pipeline(dataset.pipeline, ratios)
        source = f"the test pipeline's scale x {list(ratios)}, each also flipped"
    note = '; ' + _drop_mask_head(cfg) if scope == 'mmdet' else ''
    tta_model = copy.deepcopy(cfg.get('tta_model') or (DET_TTA_MODEL if scope == 'mmdet' else SEG_TTA_MODEL))
    cfg.model = ConfigDict(**tta_model, module=cfg.model)
    dataset.pipeline = pipeline
    return f'test-time augmentation: {tta_model["type"]} over {source}{note}'
