"""Argument and input checks of the MambaVision backbone.

Each check raises a ValueError (or TypeError) naming the argument, the value it got and what would be right.
"""
import os
import warnings
from typing import List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

#: levels of the network: 0 and 1 convolutional, 2 and 3 hybrid (Mamba + attention)
NUM_LEVELS = 4
#: the value of an argument that stands for the arch's own setting (e.g. `layer_scale='arch'`)
ARCH_DEFAULT = 'arch'
#: what a custom arch dict leaves out
CUSTOM_ARCH_DEFAULTS = dict(window_size=(8, 8, 14, 7), drop_path_rate=0., layer_scale=None)
_REQUIRED_ARCH_KEYS = {'dim', 'in_dim', 'depths', 'num_heads'}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_levels(value) -> bool:
    """NUM_LEVELS positive ints in a list or tuple."""
    return (isinstance(value, (list, tuple)) and len(value) == NUM_LEVELS
            and all(_is_int(v) and v >= 1 for v in value))


def check_int(name: str, value, minimum: int) -> None:
    if not (_is_int(value) and value >= minimum):
        raise ValueError(f'{name} must be an int >= {minimum}, got {value!r}.')


def check_rate(name: str, value) -> None:
    if not (_is_number(value) and 0 <= value < 1):
        raise ValueError(f'{name} must be a probability in [0, 1), got {value!r}.')


def resolve_arch(arch: Union[str, dict], settings: Mapping[str, dict], aliases: Mapping[str, str]) -> dict:
    """The arch dict (with window_size, drop_path_rate and layer_scale) of a variant name or a custom dict.

    Args:
        arch: a key of `settings` or `aliases` (any case), or a dict with the keys dim, in_dim, depths,
            num_heads and optionally those of CUSTOM_ARCH_DEFAULTS.
        settings: variant name -> arch dict.
        aliases: short name (lower case) -> variant name.

    Raises:
        ValueError: an unknown name, or a dict with missing / unknown keys or bad values.
        TypeError: neither a str nor a dict.
    """
    if isinstance(arch, dict):
        optional = set(CUSTOM_ARCH_DEFAULTS)
        if not _REQUIRED_ARCH_KEYS <= arch.keys() or not arch.keys() <= _REQUIRED_ARCH_KEYS | optional:
            raise ValueError(f'A custom arch needs the keys {sorted(_REQUIRED_ARCH_KEYS)} (optionally '
                             f'{sorted(optional)}), got {sorted(arch)}.')
        arch = dict(CUSTOM_ARCH_DEFAULTS, **arch)
        check_arch(arch)
        return arch
    if not isinstance(arch, str):
        raise TypeError(f'arch must be a variant name or a dict, got {type(arch).__name__}: {arch!r}.')
    name = aliases.get(arch.lower(), arch.lower())
    if name not in settings:
        raise ValueError(f'Unknown MambaVision arch {arch!r}; choose one of {list(settings)} (or '
                         f'{list(aliases)}), or pass a dict.')
    return dict(settings[name])


def check_arch(arch: dict) -> None:
    """Positive dims and depths, and heads that divide the channels of the hybrid levels."""
    check_int("arch['dim']", arch['dim'], 1)
    check_int("arch['in_dim']", arch['in_dim'], 1)
    for key in ('depths', 'num_heads'):
        if not _is_levels(arch[key]):
            raise ValueError(f"arch[{key!r}] must hold {NUM_LEVELS} positive ints, one per level (e.g. "
                             f'depths=(1, 3, 8, 4), num_heads=(2, 4, 8, 16)), got {arch[key]!r}.')
    for i in range(2, NUM_LEVELS):  # levels 0 and 1 are convolutional: no heads
        channels = arch['dim'] * 2 ** i
        if channels % arch['num_heads'][i]:
            raise ValueError(
                f"Level {i} has {channels} channels (arch['dim'] * 2**{i}), which "
                f"num_heads[{i}]={arch['num_heads'][i]} does not divide; choose a divisor of {channels}.")


def check_window_size(window_size: Union[int, Sequence[int]], default: Sequence[int]) -> Tuple[int, ...]:
    """An int (the window of levels 2 and 3, levels 0 and 1 keeping `default`'s) or NUM_LEVELS ints -> a
    tuple of NUM_LEVELS positive ints."""
    if _is_int(window_size):
        first = tuple(default[:2]) if isinstance(default, (list, tuple)) else (window_size, ) * 2
        window_size = first + (window_size, ) * (NUM_LEVELS - 2)
    if not _is_levels(window_size):
        raise ValueError(f'window_size must be a positive int (the window of levels 2 and 3) or {NUM_LEVELS} '
                         f'positive ints (one per level; levels 0 and 1 ignore theirs), got {window_size!r}.')
    return tuple(window_size)


def check_out_indices(out_indices: Union[int, Sequence[int]]) -> Tuple[int, ...]:
    """An int or ints in [-NUM_LEVELS, NUM_LEVELS - 1] -> sorted unique levels in [0, NUM_LEVELS - 1]."""
    if _is_int(out_indices):
        out_indices = (out_indices, )
    valid = isinstance(out_indices, (list, tuple)) and len(out_indices) > 0 and all(
        _is_int(i) and -NUM_LEVELS <= i < NUM_LEVELS for i in out_indices)
    if not valid:
        raise ValueError(f'out_indices must be an int or a non-empty sequence of ints in [{-NUM_LEVELS}, '
                         f'{NUM_LEVELS - 1}] (levels 0-3, strides 4-32), got {out_indices!r}.')
    return tuple(sorted({i % NUM_LEVELS for i in out_indices}))


def resolve_layer_scale(layer_scale: Union[float, None, str], arch_value: Optional[float]) -> Optional[float]:
    """`layer_scale`, or with ARCH_DEFAULT the arch's own value; None means no layer scale.

    Raises:
        ValueError: a value (the argument's, or the arch dict's for ARCH_DEFAULT) that is neither None nor a
            positive number, or a str other than ARCH_DEFAULT.
    """
    if isinstance(layer_scale, str) and layer_scale == ARCH_DEFAULT:
        if not (arch_value is None or (_is_number(arch_value) and arch_value > 0)):
            raise ValueError(f"arch['layer_scale'] must be None (no layer scale) or a positive float such as 1e-5, "
                             f'got {arch_value!r}.')
        return arch_value
    if layer_scale is None or (_is_number(layer_scale) and layer_scale > 0):
        return layer_scale
    raise ValueError(f"layer_scale must be None (no layer scale), a positive float such as 1e-5, or {ARCH_DEFAULT!r} "
                     f"(the arch's own, here {arch_value!r}), got {layer_scale!r}.")


def check_options(*, in_channels: int, drop_path_rate: float, drop_rate: float, attn_drop_rate: float,
                  mlp_ratio: float, frozen_stages: int, qkv_bias: bool, norm_eval: bool, with_cp: bool) -> None:
    """The scalar arguments of MambaVision (drop_path_rate after the arch's default)."""
    check_int('in_channels', in_channels, 1)
    check_rate('drop_path_rate', drop_path_rate)
    check_rate('drop_rate', drop_rate)
    check_rate('attn_drop_rate', attn_drop_rate)
    if not (_is_number(mlp_ratio) and mlp_ratio > 0):
        raise ValueError(f'mlp_ratio must be a positive number (4.0 in every variant), got {mlp_ratio!r}.')
    if not (_is_int(frozen_stages) and -1 <= frozen_stages <= NUM_LEVELS):
        raise ValueError(f'frozen_stages must be an int in [-1, {NUM_LEVELS}] (-1: nothing frozen, 0: the stem, '
                         f'k: the stem and levels 0..k-1), got {frozen_stages!r}.')
    for name, flag in (('qkv_bias', qkv_bias), ('norm_eval', norm_eval), ('with_cp', with_cp)):
        if not isinstance(flag, bool):
            raise TypeError(f'{name} must be True or False, got {flag!r}.')


def pretrained_to_init_cfg(pretrained: Optional[str],
                           init_cfg: Optional[Union[dict, List[dict]]]) -> Optional[Union[dict, List[dict]]]:
    """`pretrained=PATH` -> `init_cfg=dict(type='Pretrained', checkpoint=PATH)`, as mmseg's SwinTransformer and
    MixVisionTransformer do; `init_cfg` when `pretrained` is None."""
    if pretrained is None:
        return init_cfg
    if not isinstance(pretrained, (str, os.PathLike)):
        raise TypeError(f'pretrained must be a str (path or URL) or None, got '
                        f'{type(pretrained).__name__}: {pretrained!r}.')
    if init_cfg is not None:
        raise ValueError(
            f'MambaVision got both init_cfg={init_cfg!r} and pretrained={pretrained!r}; give only '
            "init_cfg. mmseg's EncoderDecoder passes `model.pretrained` of the config (e.g. the "
            'ResNet weights of a base config such as upernet_r50.py) to the backbone: set '
            'model.pretrained=None in your config.')
    warnings.warn('DeprecationWarning: pretrained is deprecated, please use "init_cfg" instead: '
                  f"init_cfg=dict(type='Pretrained', checkpoint={pretrained!r})")
    return dict(type='Pretrained', checkpoint=pretrained)


def check_input(x: Tensor, in_channels: int, weight: Tensor) -> None:
    """A floating (N, in_channels, H >= 1, W >= 1) image batch on the device and of the dtype of `weight` (the
    stem's), or of another floating dtype under autocast."""
    if not isinstance(x, Tensor):
        raise TypeError(f'MambaVision expects a torch.Tensor, got {type(x).__name__}.')
    if x.dim() != 4:
        raise ValueError(f'MambaVision expects a 4-D (N, C, H, W) batch, got shape {tuple(x.shape)}.')
    if x.shape[1] != in_channels:
        raise ValueError(f'MambaVision expects {in_channels} input channels (NCHW), got {x.shape[1]} in shape '
                         f'{tuple(x.shape)}.')
    if not x.is_floating_point():
        raise TypeError(f'MambaVision expects a floating-point image, got {x.dtype}; normalise it and convert '
                        'with .float().')
    if x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ValueError(f'MambaVision got an empty image of shape {tuple(x.shape)}: height and width must be at '
                         'least 1 (any size >= 1 works).')
    if x.device != weight.device:
        raise RuntimeError(f'The image is on {x.device} but MambaVision is on {weight.device}: move one of them, '
                           f'e.g. x.to({str(weight.device)!r}).')
    if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(
            f'The image is {x.dtype} but the MambaVision weights are {weight.dtype}: cast the image '
            f'(x.to({weight.dtype})) or the model (model.to({x.dtype})), or run the forward under '
            f"torch.autocast('{x.device.type}', dtype={x.dtype}) for mixed precision.")
