"""The model of a config, built in its scope with the weights of a checkpoint (mmdet's `init_detector`, mmseg's
`init_model`), and the image inferencers of tools/demo.py."""
import importlib
import os
from collections.abc import Mapping
from typing import Any, Optional, Tuple, Union

from mmengine.config import Config
from mmengine.registry import DefaultScope, Registry, init_default_scope
from torch import nn

from ..fileio import load_checkpoint_file
from ..models import MambaVision
from ..models.utils import extract_state_dict

ConfigType = Union[str, os.PathLike, Config]
#: The scopes whose configs tools/demo.py runs, and the inferencer of each.
INFERENCERS = {'mmdet': ('mmdet.apis', 'DetInferencer'), 'mmseg': ('mmseg.apis', 'MMSegInferencer')}


def load_config(config: ConfigType, cfg_options: Optional[dict] = None) -> Config:
    """`config` read (a path) or taken as it is (a Config), with `cfg_options` merged into it."""
    cfg = config if isinstance(config, Config) else Config.fromfile(os.fspath(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def model_registry(cfg: Config) -> Tuple[Registry, Optional[str]]:
    """The MODELS registry that builds `cfg.model` (all of its codebase's modules registered) and its scope.

    A config without `default_scope` (e.g. `model = dict(type='MambaVision', ...)`) builds in mmengine's root
    registry.

    Raises:
        ValueError: the codebase of `default_scope` is not installed, or a config without one names a model
            that the root registry does not hold.
    """
    scope = cfg.get('default_scope')
    if scope is None:
        from mmengine.registry import MODELS
        kind = cfg.model.get('type')
        if isinstance(kind, str) and MODELS.get(kind) is None:
            raise ValueError(f"cannot tell the model's library of {kind!r} (default_scope=None); expected an mmdet "
                             "or mmseg config, or model.type='MambaVision'.")
        return MODELS, None
    try:
        importlib.import_module(f'{scope}.utils').register_all_modules(init_default_scope=False)
        registry = importlib.import_module(f'{scope}.registry').MODELS
    except ImportError as e:
        raise ValueError(f'default_scope={scope!r}: {e}; is {scope} installed?') from e
    return registry, scope


def load_weights(model: nn.Module, checkpoint: Union[str, os.PathLike]) -> None:
    """Loads a checkpoint into a model safely (:func:`mmvision_mamba.fileio.load_checkpoint_file`).

    A MambaVision model, or a model whose MambaVision backbone meets a backbone-only file (an official
    classification `.pth.tar` or `model.safetensors`), loads through `MambaVision.load_pretrained`; other files
    (det / seg checkpoints, mambavision2mm's output, a run's `epoch_*.pth`) are loaded by name, non-strictly, with
    the missing and unexpected keys logged. A checkpoint's `meta.dataset_meta` becomes `model.dataset_meta`.
    """
    if isinstance(model, MambaVision):
        model.load_pretrained(checkpoint)
        return
    from mmengine.runner import load_state_dict

    loaded = load_checkpoint_file(checkpoint)
    state = {(k[len('module.'):] if k.startswith('module.') else k): v
             for k, v in extract_state_dict(loaded).items()}
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, MambaVision) and not any(k.startswith('backbone.') for k in state):
        backbone.load_pretrained(checkpoint)
    else:
        load_state_dict(model, state, strict=False, logger='current')
    meta = loaded.get('meta') if isinstance(loaded, Mapping) else None
    if isinstance(meta, Mapping) and meta.get('dataset_meta'):
        model.dataset_meta = dict(meta['dataset_meta'])


def init_model(config: ConfigType, checkpoint: Optional[Union[str, os.PathLike]] = None, device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """The model of an mmdet / mmseg config (or of a bare `model = dict(type='MambaVision', ...)`), built in the
    config's scope, SyncBN turned into BN, in eval mode on `device`; `model.cfg` is the config.

    Nothing is downloaded: `init_weights` is not called (so `init_cfg` is not read).

    Args:
        config: config file or Config (its `custom_imports` are imported).
        checkpoint: weights to load (:func:`load_weights`); None keeps the initialisation of the modules.
        device: e.g. 'cpu' or 'cuda:0'.
        cfg_options: settings merged into the config, e.g. `{'model.backbone.window_mode': 'fit'}`.

    Raises:
        ValueError: the config has no `model`, or its library cannot be told (:func:`model_registry`); the
            errors of :func:`mmvision_mamba.fileio.load_checkpoint_file` and `MambaVision.load_pretrained`.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.utils import import_modules_from_strings

    cfg = load_config(config, cfg_options)
    if 'model' not in cfg:
        raise ValueError(f'{getattr(cfg, "filename", None) or "the config"} has no `model` entry.')
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    registry, scope = model_registry(cfg)
    if scope is not None:
        init_default_scope(scope)
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
    model = revert_sync_batchnorm(model)
    if checkpoint is not None:
        load_weights(model, checkpoint)
    model.cfg = cfg
    return model.to(device).eval()


def init_inferencer(config: Union[str, os.PathLike], checkpoint: Union[str, os.PathLike], device: str = 'cpu') -> Any:
    """mmdet's DetInferencer for an mmdet config, mmseg's MMSegInferencer for an mmseg one.

    Raises:
        ValueError: the config's default_scope is neither 'mmdet' nor 'mmseg'.
    """
    config = os.fspath(config)
    scope = Config.fromfile(config).get('default_scope')
    if scope not in INFERENCERS:
        raise ValueError(f"{config} has default_scope={scope!r}; the inferencers run 'mmdet' and 'mmseg' configs.")
    module, name = INFERENCERS[scope]
    inferencer = getattr(importlib.import_module(module), name)
    return inferencer(model=config, weights=os.fspath(checkpoint), device=device)


def infer_image(inferencer: Any, image: str, score_thr: float = 0.3, opacity: float = 0.5) -> dict:
    """The inferencer's output for one image; 'visualization' is a list holding the painted picture (RGB).

    Args:
        score_thr: detection: the lowest score drawn.
        opacity: segmentation: the opacity of the mask.
    """
    if type(inferencer).__name__ == 'DetInferencer':
        result = inferencer(image, return_vis=True, pred_score_thr=score_thr)
    else:
        result = inferencer(image, return_vis=True, opacity=opacity)
    vis = result['visualization']
    result['visualization'] = vis if isinstance(vis, list) else [vis]  # MMSegInferencer unpacks a single image
    return result
