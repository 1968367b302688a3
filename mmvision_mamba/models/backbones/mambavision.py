"""MambaVision backbone (Hatamizadeh & Kautz, CVPR 2025) for OpenMMLab dense prediction."""
import os
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmvision_mamba.utils import load_checkpoint_file
from ..layers import (ConvBlock, Downsample, HybridBlock, PatchEmbed, check_window_mode, crop, level_window,
                      pad_to_multiple, window_partition, window_reverse)
from ..utils import as_tensor, convert_mambavision, extract_state_dict


def attention_block_ids(depth: int) -> range:
    """The second half of a level runs attention (the middle block stays Mamba when depth is odd)."""
    return range(depth // 2 + 1, depth) if depth % 2 else range(depth // 2, depth)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(name: str, value, minimum: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
        raise ValueError(f'{name} must be an int >= {minimum}, got {value!r}.')


def _check_rate(name: str, value) -> None:
    if not (_is_number(value) and 0 <= value < 1):
        raise ValueError(f'{name} must be a probability in [0, 1), got {value!r}.')


#: Out-norm types built without mmcv; 'LN' normalises over channels.
_SIMPLE_NORMS = {'LN': nn.LayerNorm, 'BN': nn.BatchNorm2d, 'BN2d': nn.BatchNorm2d,
                 'SyncBN': nn.SyncBatchNorm}


def _mmcv_norm_types() -> List[str]:
    """Names of the norm layers in mmcv's registry (empty without mmcv)."""
    try:
        import mmcv.cnn  # noqa: F401  (registers mmcv's norm layers)
    except ImportError:
        return []
    from torch.nn.modules.instancenorm import _InstanceNorm
    norms = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if isinstance(cls, type) and issubclass(cls, norms))


def build_out_norm(cfg: Optional[dict], channels: int) -> nn.Module:
    """LN (over channels), BN or SyncBN from an mmcv-style norm cfg; anything else through mmcv.

    Raises:
        ValueError: an unknown type (the valid ones are listed) or arguments it does not take.
    """
    if not cfg:
        return nn.Identity()
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f"out_norm_cfg must be None or a dict with a 'type' (e.g. dict(type='LN', "
                        f"eps=1e-5)), got {cfg!r}.")
    cfg = dict(cfg)
    kind = cfg.pop('type')
    cfg.pop('requires_grad', None)
    if kind in _SIMPLE_NORMS:
        try:
            return _SIMPLE_NORMS[kind](channels, **cfg)
        except TypeError as e:
            raise ValueError(f'out_norm_cfg={dict(cfg, type=kind)}: {e}') from e
    valid = sorted(set(_SIMPLE_NORMS) | set(_mmcv_norm_types()))
    if kind not in valid:
        without_mmcv = '' if len(valid) > len(_SIMPLE_NORMS) else ' (install mmcv for more)'
        raise ValueError(f'out_norm_cfg has the unknown norm type {kind!r}; valid types: {valid}'
                         f'{without_mmcv}, or out_norm_cfg=None for no norm.')
    from mmcv.cnn import build_norm_layer
    try:
        return build_norm_layer(dict(cfg, type=kind), channels)[1]
    except Exception as e:  # noqa: BLE001 - mmcv raises KeyError/TypeError/AssertionError
        raise ValueError(f'out_norm_cfg={dict(cfg, type=kind)} could not be built by mmcv for '
                         f'{channels} channels: {type(e).__name__}: {e}') from e


class MambaVisionLevel(nn.Module):
    """One level: ConvBlocks on the map (levels 0, 1) or hybrid blocks on padded windows (2, 3).

    The downsample is kept here (for the official key names) but applied by the backbone, so
    that the level's output can be taken before it. `window_mode` (see `level_window`) decides
    the window of the hybrid levels on each map: 'official' (window_size, window_size), or
    'fit', which clips it to the map per dimension.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, conv: bool,
                 downsample: bool, drop_path: Sequence[float], layer_scale: Optional[float],
                 mlp_ratio: float = 4., qkv_bias: bool = True, drop: float = 0.,
                 attn_drop: float = 0., with_cp: bool = False, window_mode: str = 'official'):
        super().__init__()
        self.conv = conv
        self.window_size = window_size
        self.window_mode = check_window_mode(window_mode)
        self.with_cp = with_cp
        if conv:
            blocks = [ConvBlock(dim, drop_path[i]) for i in range(depth)]
        else:
            attn = attention_block_ids(depth)
            blocks = [HybridBlock(dim, num_heads, i in attn, mlp_ratio, qkv_bias, drop, attn_drop,
                                  drop_path[i], layer_scale) for i in range(depth)]
        self.blocks = nn.ModuleList(blocks)
        self.downsample = Downsample(dim) if downsample else None

    def _run_blocks(self, x: Tensor) -> Tensor:
        for blk in self.blocks:
            x = cp.checkpoint(blk, x, use_reentrant=False) if self.with_cp and x.requires_grad else blk(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W), before the downsample."""
        if self.conv:
            return self._run_blocks(x)
        h, w = x.shape[-2:]
        window = level_window(self.window_size, (h, w), self.window_mode)
        padded = pad_to_multiple(x, window)
        windows = self._run_blocks(window_partition(padded, window))  # (B * nW, wh * ww, C)
        return crop(window_reverse(windows, window, padded.shape[-2:]), (h, w))


@MODELS.register_module()
class MambaVision(BaseModule):
    """MambaVision hybrid Mamba-Transformer backbone.

    Args:
        arch: 'tiny', 'tiny2', 'small', 'base', 'large', 'large2', 'large3' (or T, T2, S, B, L,
            L2, L3), or a dict with keys dim, in_dim, depths, num_heads and optionally
            window_size, drop_path_rate, layer_scale.
        in_channels: input image channels.
        out_indices: levels (0-3, or negative) whose maps are returned, each at stride
            4 * 2**i; an int for a single level.
        window_size: attention/scan window of levels 2 and 3, an int for both; or 4 ints, one
            per level (levels 0 and 1 are convolutional and ignore theirs). Default: the
            arch's classification windows, e.g. (8, 8, 14, 7) for T.
        window_mode: 'official' (default): square windows, each hybrid-level map zero-padded
            right/bottom to a multiple of its window, unmasked, exactly as the official network
            (and its checkpoints). 'fit': per dimension the window is min(window_size, map
            size), so a map no larger than its window is one window with no padding; a larger
            map keeps the configured window and pads only the remainder. Identical to
            'official' whenever every map tiles by its window; with detection windows such as
            (8, 8, 112, 56), attention and the scan see only real tokens on any image up to
            1792 px (cost follows the image, not the window).
        drop_path_rate: stochastic depth in [0, 1), linear over all blocks; default: the arch's.
        layer_scale: initial layer-scale of the hybrid blocks; default: the arch's (B/L: 1e-5).
        mlp_ratio: MLP hidden width relative to the channels.
        qkv_bias: bias of the attention qkv projection.
        drop_rate: dropout after projections.
        attn_drop_rate: dropout on attention weights.
        out_norm_cfg: norm applied to each output, named `outnorm{i}` as in the official
            detection/segmentation checkpoints: LayerNorm over channels (eps 1e-5) by default,
            any mmcv norm (e.g. dict(type='BN')), or None for none.
        frozen_stages: -1 freezes nothing, 0 the stem, k >= 1 the stem and levels 0..k-1.
        norm_eval: keep BatchNorm layers in eval mode while training.
        with_cp: gradient checkpointing of each block.
        init_cfg: `dict(type='Pretrained', checkpoint=PATH_OR_URL)` loads any official
            MambaVision checkpoint (classification .pth.tar, HF safetensors, mmdet/mmseg).
        pretrained: deprecated alias of `init_cfg=dict(type='Pretrained', checkpoint=...)`, as
            in mmseg's Swin and MiT backbones (mmseg's EncoderDecoder passes its
            `model.pretrained` here); None for none.

    Raises:
        ValueError / TypeError: an argument out of range or of the wrong type; the message
            says what would be right.
    """

    arch_settings: Dict[str, dict] = {
        'tiny': dict(dim=80, in_dim=32, depths=(1, 3, 8, 4), num_heads=(2, 4, 8, 16),
                     window_size=(8, 8, 14, 7), drop_path_rate=0.2, layer_scale=None),
        'tiny2': dict(dim=80, in_dim=32, depths=(1, 3, 11, 4), num_heads=(2, 4, 8, 16),
                      window_size=(8, 8, 14, 7), drop_path_rate=0.2, layer_scale=None),
        'small': dict(dim=96, in_dim=64, depths=(3, 3, 7, 5), num_heads=(2, 4, 8, 16),
                      window_size=(8, 8, 14, 7), drop_path_rate=0.2, layer_scale=None),
        'base': dict(dim=128, in_dim=64, depths=(3, 3, 10, 5), num_heads=(2, 4, 8, 16),
                     window_size=(8, 8, 14, 7), drop_path_rate=0.3, layer_scale=1e-5),
        'large': dict(dim=196, in_dim=64, depths=(3, 3, 10, 5), num_heads=(4, 8, 16, 32),
                      window_size=(8, 8, 14, 7), drop_path_rate=0.3, layer_scale=1e-5),
        'large2': dict(dim=196, in_dim=64, depths=(3, 3, 12, 5), num_heads=(4, 8, 16, 32),
                       window_size=(8, 8, 14, 7), drop_path_rate=0.3, layer_scale=1e-5),
        'large3': dict(dim=256, in_dim=64, depths=(3, 3, 20, 10), num_heads=(4, 8, 16, 32),
                       window_size=(8, 8, 16, 8), drop_path_rate=0.5, layer_scale=1e-5),
    }
    arch_aliases: Dict[str, str] = {'t': 'tiny', 't2': 'tiny2', 's': 'small', 'b': 'base',
                                    'l': 'large', 'l2': 'large2', 'l3': 'large3'}
    num_levels = 4

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 window_size: Optional[Union[int, Sequence[int]]] = None,
                 drop_path_rate: Optional[float] = None,
                 layer_scale: Optional[float] = None,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 out_norm_cfg: Optional[dict] = dict(type='LN', eps=1e-5),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 window_mode: str = 'official',
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=self._pretrained_to_init_cfg(pretrained, init_cfg))
        self.arch = self._resolve_arch(arch)
        dim, depths, heads = self.arch['dim'], self.arch['depths'], self.arch['num_heads']
        window_size = self._check_window_size(
            window_size if window_size is not None else self.arch['window_size'], self.arch['window_size'])
        drop_path_rate = self.arch['drop_path_rate'] if drop_path_rate is None else drop_path_rate
        layer_scale = self.arch['layer_scale'] if layer_scale is None else layer_scale
        self.out_indices = self._check_indices(out_indices)
        _check_int('in_channels', in_channels, 1)
        _check_rate('drop_path_rate', drop_path_rate)
        _check_rate('drop_rate', drop_rate)
        _check_rate('attn_drop_rate', attn_drop_rate)
        if layer_scale is not None and not (_is_number(layer_scale) and layer_scale > 0):
            raise ValueError(f'layer_scale must be None (no layer scale) or a positive float such as '
                             f'1e-5, got {layer_scale!r}.')
        if not (_is_number(mlp_ratio) and mlp_ratio > 0):
            raise ValueError(f'mlp_ratio must be a positive number (4.0 in every variant), got {mlp_ratio!r}.')
        if not (isinstance(frozen_stages, int) and -1 <= frozen_stages <= self.num_levels):
            raise ValueError(f'frozen_stages must be an int in [-1, {self.num_levels}] (-1: nothing '
                             f'frozen, 0: the stem, k: the stem and levels 0..k-1), got {frozen_stages!r}.')
        for name, flag in (('qkv_bias', qkv_bias), ('norm_eval', norm_eval), ('with_cp', with_cp)):
            if not isinstance(flag, bool):
                raise TypeError(f'{name} must be True or False, got {flag!r}.')
        self.in_channels = in_channels
        self.window_size = window_size
        self.window_mode = check_window_mode(window_mode)
        self.drop_path_rate = drop_path_rate
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        #: channels of every level, and of each returned map
        self.num_features = tuple(dim * 2 ** i for i in range(self.num_levels))
        self.out_channels = tuple(self.num_features[i] for i in self.out_indices)

        self.patch_embed = PatchEmbed(in_channels, self.arch['in_dim'], dim)
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.levels = nn.ModuleList(
            MambaVisionLevel(
                dim=self.num_features[i], depth=depths[i], num_heads=heads[i],
                window_size=window_size[i], conv=i < 2, downsample=i < self.num_levels - 1,
                drop_path=dpr[sum(depths[:i]):sum(depths[:i + 1])], layer_scale=layer_scale,
                mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop=drop_rate, attn_drop=attn_drop_rate,
                with_cp=with_cp, window_mode=window_mode) for i in range(self.num_levels))
        for i in self.out_indices:
            self.add_module(f'outnorm{i}', build_out_norm(out_norm_cfg, self.num_features[i]))
        self._freeze_stages()

    @staticmethod
    def _pretrained_to_init_cfg(pretrained: Optional[str],
                                init_cfg: Optional[Union[dict, List[dict]]]) -> Optional[Union[dict, List[dict]]]:
        """`pretrained=PATH` -> `init_cfg=dict(type='Pretrained', checkpoint=PATH)`, as mmseg's
        SwinTransformer and MixVisionTransformer do."""
        if pretrained is None:
            return init_cfg
        if not isinstance(pretrained, (str, os.PathLike)):
            raise TypeError(f'pretrained must be a str (path or URL) or None, got '
                            f'{type(pretrained).__name__}: {pretrained!r}.')
        if init_cfg is not None:
            raise ValueError(
                f'MambaVision got both init_cfg={init_cfg!r} and pretrained={pretrained!r}; give only '
                "init_cfg. mmseg's EncoderDecoder passes `model.pretrained` of the config (e.g. the "
                "ResNet weights of a base config such as upernet_r50.py) to the backbone: set "
                'model.pretrained=None in your config.')
        warnings.warn('DeprecationWarning: pretrained is deprecated, please use "init_cfg" instead: '
                      f"init_cfg=dict(type='Pretrained', checkpoint={pretrained!r})")
        return dict(type='Pretrained', checkpoint=pretrained)

    @classmethod
    def _resolve_arch(cls, arch: Union[str, dict]) -> dict:
        """The arch dict (with window_size, drop_path_rate and layer_scale) of a name or a dict.

        Raises:
            ValueError: unknown name, or a dict with missing / unknown keys or bad values.
        """
        if isinstance(arch, dict):
            required = {'dim', 'in_dim', 'depths', 'num_heads'}
            optional = {'window_size', 'drop_path_rate', 'layer_scale'}
            if not required <= arch.keys() or not arch.keys() <= required | optional:
                raise ValueError(f'A custom arch needs the keys {sorted(required)} (optionally '
                                 f'{sorted(optional)}), got {sorted(arch)}.')
            arch = dict(dict(window_size=(8, 8, 14, 7), drop_path_rate=0., layer_scale=None), **arch)
            cls._check_arch(arch)
            return arch
        if not isinstance(arch, str):
            raise TypeError(f'arch must be a variant name or a dict, got {type(arch).__name__}: {arch!r}.')
        name = cls.arch_aliases.get(arch.lower(), arch.lower())
        if name not in cls.arch_settings:
            raise ValueError(f'Unknown MambaVision arch {arch!r}; choose one of '
                             f'{list(cls.arch_settings)} (or {list(cls.arch_aliases)}), or pass a dict.')
        return dict(cls.arch_settings[name])

    @classmethod
    def _check_arch(cls, arch: dict) -> None:
        _check_int("arch['dim']", arch['dim'], 1)
        _check_int("arch['in_dim']", arch['in_dim'], 1)
        for key in ('depths', 'num_heads'):
            value = arch[key]
            if (not isinstance(value, (list, tuple)) or len(value) != cls.num_levels
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
                raise ValueError(f"arch[{key!r}] must hold {cls.num_levels} positive ints, one per level "
                                 f"(e.g. depths=(1, 3, 8, 4), num_heads=(2, 4, 8, 16)), got {value!r}.")
        for i in range(2, cls.num_levels):  # levels 0 and 1 are convolutional: no heads
            channels = arch['dim'] * 2 ** i
            if channels % arch['num_heads'][i]:
                raise ValueError(
                    f"Level {i} has {channels} channels (arch['dim'] * 2**{i}), which "
                    f"num_heads[{i}]={arch['num_heads'][i]} does not divide; choose a divisor of {channels}.")

    @classmethod
    def _check_window_size(cls, window_size: Union[int, Sequence[int]],
                           default: Sequence[int]) -> Tuple[int, ...]:
        """An int (levels 2 and 3) or 4 ints -> 4 positive ints."""
        if isinstance(window_size, int) and not isinstance(window_size, bool):
            first = tuple(default[:2]) if isinstance(default, (list, tuple)) else (window_size,) * 2
            window_size = first + (window_size,) * (cls.num_levels - 2)
        if (not isinstance(window_size, (list, tuple)) or len(window_size) != cls.num_levels
                or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in window_size)):
            raise ValueError(f'window_size must be a positive int (the window of levels 2 and 3) or '
                             f'{cls.num_levels} positive ints (one per level; levels 0 and 1 ignore '
                             f'theirs), got {window_size!r}.')
        return tuple(window_size)

    @classmethod
    def _check_indices(cls, out_indices: Union[int, Sequence[int]]) -> Tuple[int, ...]:
        """An int or ints in [-4, 3] -> sorted unique levels in [0, 3]."""
        if isinstance(out_indices, int) and not isinstance(out_indices, bool):
            out_indices = (out_indices,)
        valid = isinstance(out_indices, (list, tuple)) and len(out_indices) > 0 and all(
            isinstance(i, int) and not isinstance(i, bool) and -cls.num_levels <= i < cls.num_levels
            for i in out_indices)
        if not valid:
            raise ValueError(f'out_indices must be an int or a non-empty sequence of ints in '
                             f'[{-cls.num_levels}, {cls.num_levels - 1}] (levels 0-3, strides 4-32), '
                             f'got {out_indices!r}.')
        return tuple(sorted({i % cls.num_levels for i in out_indices}))

    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f'MambaVision expects a torch.Tensor, got {type(x).__name__}.')
        if x.dim() != 4:
            raise ValueError(f'MambaVision expects a 4-D (N, C, H, W) batch, got shape {tuple(x.shape)}.')
        if x.shape[1] != self.in_channels:
            raise ValueError(f'MambaVision expects {self.in_channels} input channels (NCHW), got '
                             f'{x.shape[1]} in shape {tuple(x.shape)}.')
        if not x.is_floating_point():
            raise TypeError(f'MambaVision expects a floating-point image, got {x.dtype}; '
                            'normalise it and convert with .float().')
        if x.shape[-2] < 1 or x.shape[-1] < 1:
            raise ValueError(f'MambaVision got an empty image of shape {tuple(x.shape)}: height and '
                             'width must be at least 1 (any size >= 1 works).')
        weight = self.patch_embed.conv_down[0].weight
        if x.device != weight.device:
            raise RuntimeError(f'The image is on {x.device} but MambaVision is on {weight.device}: move '
                               f'one of them, e.g. x.to({str(weight.device)!r}).')
        if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f'The image is {x.dtype} but the MambaVision weights are {weight.dtype}: cast the image '
                f'(x.to({weight.dtype})) or the model (model.to({x.dtype})), or run the forward under '
                f"torch.autocast('{x.device.type}', dtype={x.dtype}) for mixed precision.")

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(B, in_channels, H, W) -> tuple of (B, out_channels[k], H_i, W_i), any H and W."""
        self._check_input(x)
        x = self.patch_embed(x)
        outs = []
        for i, level in enumerate(self.levels[:self.out_indices[-1] + 1]):
            x = level(x)
            if i in self.out_indices:
                outs.append(self._out_norm(i, x))
            if level.downsample is not None and i < self.out_indices[-1]:
                x = level.downsample(x)
        return tuple(outs)

    def _out_norm(self, i: int, x: Tensor) -> Tensor:
        norm = getattr(self, f'outnorm{i}')
        if isinstance(norm, nn.LayerNorm):
            return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous()
        return norm(x)

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        mods: List[nn.Module] = [self.patch_embed]
        for i in range(self.frozen_stages):
            mods.append(self.levels[i])
            if i in self.out_indices:
                mods.append(getattr(self, f'outnorm{i}'))
        return mods

    def _freeze_stages(self) -> None:
        for m in self._frozen_modules():
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'MambaVision':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def init_weights(self) -> None:
        """From scratch (spec init) or, with a Pretrained init_cfg, from an official checkpoint."""
        cfg = self.init_cfg[0] if isinstance(self.init_cfg, list) and len(self.init_cfg) == 1 else self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            if 'checkpoint' not in cfg:
                raise ValueError("init_cfg of type 'Pretrained' needs a 'checkpoint' path or URL.")
            self.load_pretrained(cfg['checkpoint'])
        else:
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_(m.weight, std=.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, (nn.LayerNorm, _BatchNorm)):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
            if cfg is not None:
                super().init_weights()
        self._is_init = True

    def load_pretrained(self, checkpoint: Union[str, os.PathLike]) -> None:
        """Loads an official MambaVision checkpoint, logging missing and ignored keys; warns
        naming the tensors that hold NaN or Inf.

        Raises:
            ValueError: the file holds no MambaVision weights, or weights of another variant
                (and the errors of :func:`mmvision_mamba.utils.load_checkpoint_file`).
        """
        logger = MMLogger.get_current_instance()
        source = extract_state_dict(load_checkpoint_file(checkpoint))
        state = convert_mambavision(source)
        own = self.state_dict()
        matched = [k for k in state if k in own]
        if not matched:
            raise ValueError(f'{checkpoint!r} holds no MambaVision backbone weights (first keys: '
                             f'{list(source)[:3]}).')
        state.update((k, as_tensor(state[k], f'{checkpoint}: {k!r}')) for k in matched)
        for k in matched:
            if state[k].shape != own[k].shape:
                raise ValueError(
                    f'{checkpoint!r} does not fit MambaVision(arch={self.arch}): first mismatched key '
                    f'{k!r} has shape {tuple(state[k].shape)} in the checkpoint but '
                    f'{tuple(own[k].shape)} in the model. Is it a checkpoint of another variant?')
        non_finite = [f'{k} ({int((~torch.isfinite(state[k])).sum())} of {state[k].numel()})'
                      for k in matched if state[k].is_floating_point() and not torch.isfinite(state[k]).all()]
        if non_finite:
            warnings.warn(f'{checkpoint} holds NaN/Inf values in {len(non_finite)} MambaVision tensors, so '
                          f'every output will be non-finite: {", ".join(non_finite[:10])}'
                          + (', ...' if len(non_finite) > 10 else '')
                          + '. Was it saved from a diverged run?')
        missing, unexpected = self.load_state_dict(state, strict=False)
        ignored = len(source) - len(state)
        logger.info(f'Loaded {len(matched)} MambaVision tensors from {checkpoint}'
                    + (f'; ignored {ignored} head/neck tensors' if ignored else ''))
        if missing:
            logger.warning(f'Keys missing from the checkpoint (left as initialised): {missing}')
        if unexpected:
            logger.warning(f'Unexpected keys in the checkpoint (not loaded): {unexpected}')
