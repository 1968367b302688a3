"""`MM_mamba_vision`: the backbone type of the official MambaVision det / seg configs, so that they run unchanged."""
import os
import warnings
from typing import Optional, Sequence, Union

from mmengine.registry import MODELS

from .mambavision import MambaVision

#: the official `norm_layer` names (any case) -> the out_norm_cfg that builds the same layer
OFFICIAL_NORMS = {'ln2d': dict(type='LN', eps=1e-5), 'bn': dict(type='BN', eps=1e-5)}
#: the stochastic depth the official wrapper trains with, whatever the config says (it does not pass it on)
OFFICIAL_DROP_PATH_RATE = 0.2
#: arguments of the official classification network that its det / seg wrapper accepts and does not pass on
NOT_PASSED_ON = ('drop_path_rate', 'layer_scale_conv', 'in_chans', 'num_classes', 'qkv_bias', 'qk_scale',
                 'drop_rate', 'attn_drop_rate')


@MODELS.register_module(name='MM_mamba_vision')
class MambaVisionOfficial(MambaVision):
    """The official det / seg backbone `MM_mamba_vision`, with its keyword arguments and their meanings.

    It builds the network of the official wrapper: the same keys, shapes and outputs as `MambaVision` with
    the arch given by `dim`, `in_dim`, `depths` and `num_heads`, `window_mode='official'` and
    `drop_path_rate=0.2`. Use `type='MambaVision'` for this plugin's other options (frozen_stages, fit windows,
    another drop_path_rate, ...).

    Args:
        dim: channels of level 0 (level i has dim * 2**i).
        in_dim: channels of the stem's first conv.
        depths: blocks per level, 4 ints.
        window_size: window of each level, 4 ints (levels 0 and 1 ignore theirs).
        mlp_ratio: MLP hidden width relative to the channels.
        num_heads: attention heads per level, 4 ints.
        out_indices: levels whose (B, dim * 2**i, H / 2**(i + 2), W / 2**(i + 2)) maps are returned.
        pretrained: path or URL of a MambaVision checkpoint, loaded by `init_weights()` (the official wrapper
            loads it when built); None for none.
        norm_layer: norm of each returned map: 'ln2d' (LayerNorm over channels) or 'bn' (BatchNorm2d).
        layer_scale: initial layer scale of the hybrid blocks; None for none.
        **ignored: what the official wrapper accepts and drops: the arguments in `NOT_PASSED_ON` (so
            `drop_path_rate` stays 0.2) and the keys that a config without `_delete_=True` inherits from its
            base's backbone (ResNet's depth, frozen_stages, init_cfg, ...; Swin's embed_dims, ...). A warning
            names them.

    Raises:
        ValueError / TypeError: an unknown norm_layer, a pretrained that is not a path, and the argument errors
            of `MambaVision`.
    """

    def __init__(self,
                 dim: int,
                 in_dim: int,
                 depths: Sequence[int],
                 window_size: Sequence[int],
                 mlp_ratio: float,
                 num_heads: Sequence[int],
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 pretrained: Optional[Union[str, os.PathLike]] = None,
                 norm_layer: str = 'ln2d',
                 layer_scale: Optional[float] = None,
                 **ignored):
        if not isinstance(norm_layer, str) or norm_layer.lower() not in OFFICIAL_NORMS:
            raise ValueError(f'norm_layer must be one of {list(OFFICIAL_NORMS)} (the norm of each returned map), got '
                             f"{norm_layer!r}. (The official 'ln' normalises the last, width, dimension of an NCHW "
                             "map, which fails unless the width equals the channels: use 'ln2d'.)")
        if pretrained is not None and not isinstance(pretrained, (str, os.PathLike)):
            raise TypeError(f'pretrained must be a str (path or URL) or None, got {type(pretrained).__name__}: '
                            f'{pretrained!r}.')
        _warn_ignored(ignored)
        super().__init__(
            arch=dict(dim=dim, in_dim=in_dim, depths=tuple(depths), num_heads=tuple(num_heads)),
            out_indices=out_indices,
            window_size=tuple(window_size) if isinstance(window_size, (list, tuple)) else window_size,
            drop_path_rate=OFFICIAL_DROP_PATH_RATE,
            layer_scale=layer_scale,
            mlp_ratio=mlp_ratio,
            out_norm_cfg=OFFICIAL_NORMS[norm_layer.lower()],
            init_cfg=None if pretrained is None else dict(type='Pretrained', checkpoint=pretrained))


def _warn_ignored(ignored: dict) -> None:
    """One warning naming the arguments that the official wrapper, and so this alias, drops."""
    notes = []
    rate = ignored.get('drop_path_rate', OFFICIAL_DROP_PATH_RATE)
    if rate != OFFICIAL_DROP_PATH_RATE:
        notes.append(f'drop_path_rate={rate!r} (the official wrapper does not pass it on: its runs trained with '
                     f"{OFFICIAL_DROP_PATH_RATE}; for {rate!r} use type='MambaVision', drop_path_rate={rate!r})")
    if ignored.get('layer_scale_conv') is not None:
        notes.append(f"layer_scale_conv={ignored['layer_scale_conv']!r} (not passed on by the official wrapper; "
                     'no released checkpoint has conv layer scale)')
    others = sorted(k for k in ignored if k not in ('drop_path_rate', 'layer_scale_conv'))
    if others:
        notes.append(f'{", ".join(others)} (as the official wrapper does; keys that a config without '
                     "`_delete_=True` inherits from its base's backbone, e.g. ResNet's depth, frozen_stages, "
                     'init_cfg, land here)')
    if notes:
        warnings.warn('MM_mamba_vision ignores ' + '; '.join(notes) + '.', stacklevel=3)
