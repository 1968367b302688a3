"""The norm of a backbone output from an mmcv-style cfg: LN, BN and SyncBN without mmcv, any other through mmcv."""
from typing import List, Optional

from torch import nn

#: norm types built without mmcv; 'LN' normalises over channels (the caller puts them last)
SIMPLE_NORMS = {'LN': nn.LayerNorm, 'BN': nn.BatchNorm2d, 'BN2d': nn.BatchNorm2d, 'SyncBN': nn.SyncBatchNorm}


def mmcv_norm_types() -> List[str]:
    """Names of the norm layers in mmcv's registry (empty without mmcv)."""
    try:
        import mmcv.cnn  # noqa: F401  (registers mmcv's norm layers)
    except ImportError:
        return []
    from mmengine.registry import MODELS
    from torch.nn.modules.batchnorm import _BatchNorm
    from torch.nn.modules.instancenorm import _InstanceNorm
    norms = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)
    return sorted(name for name, cls in MODELS.module_dict.items() if isinstance(cls, type) and issubclass(cls, norms))


def build_out_norm(cfg: Optional[dict], channels: int) -> nn.Module:
    """LN (over channels), BN or SyncBN from an mmcv-style norm cfg; anything else through mmcv; None: Identity.

    Raises:
        TypeError: `cfg` is neither None nor a dict with a 'type'.
        ValueError: an unknown type (the valid ones are listed) or arguments it does not take.
    """
    if not cfg:
        return nn.Identity()
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f"out_norm_cfg must be None or a dict with a 'type' (e.g. dict(type='LN', "
                        f'eps=1e-5)), got {cfg!r}.')
    cfg = dict(cfg)
    kind = cfg.pop('type')
    cfg.pop('requires_grad', None)
    if kind in SIMPLE_NORMS:
        try:
            return SIMPLE_NORMS[kind](channels, **cfg)
        except TypeError as e:
            raise ValueError(f'out_norm_cfg={dict(cfg, type=kind)}: {e}') from e
    valid = sorted(set(SIMPLE_NORMS) | set(mmcv_norm_types()))
    if kind not in valid:
        without_mmcv = '' if len(valid) > len(SIMPLE_NORMS) else ' (install mmcv for more)'
        raise ValueError(f'out_norm_cfg has the unknown norm type {kind!r}; valid types: {valid}'
                         f'{without_mmcv}, or out_norm_cfg=None for no norm.')
    from mmcv.cnn import build_norm_layer
    try:
        return build_norm_layer(dict(cfg, type=kind), channels)[1]
    except Exception as e:  # mmcv raises KeyError/TypeError/AssertionError
        raise ValueError(f'out_norm_cfg={dict(cfg, type=kind)} could not be built by mmcv for '
                         f'{channels} channels: {type(e).__name__}: {e}') from e
