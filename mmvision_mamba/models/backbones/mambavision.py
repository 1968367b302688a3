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

from ...fileio import load_checkpoint_file
from ..layers import (ConvBlock, Downsample, HybridBlock, PatchEmbed, build_out_norm, check_window_mode, crop,
                      level_window, pad_to_multiple, window_partition, window_reverse)
from ..utils import as_tensor, convert_mambavision, extract_state_dict
from .argument_checks import (ARCH_DEFAULT, NUM_LEVELS, check_input, check_options, check_out_indices,
                               check_window_size, pretrained_to_init_cfg, resolve_arch, resolve_layer_scale)
from .channel_check import check_builder_channels


def attention_block_ids(depth: int) -> range:
    """The second half of a level runs attention (the middle block stays Mamba when depth is odd)."""
    return range(depth // 2 + 1, depth) if depth % 2 else range(depth // 2, depth)


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

    def run_blocks(self, x: Tensor) -> Tensor:
        """The blocks alone: (B, C, H, W) maps (conv levels) or (B * nW, wh * ww, C) windows (hybrid levels)."""
        for blk in self.blocks:
            x = cp.checkpoint(blk, x, use_reentrant=False) if self.with_cp and x.requires_grad else blk(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W), before the downsample."""
        if self.conv:
            return self.run_blocks(x)
        h, w = x.shape[-2:]
        window = level_window(self.window_size, (h, w), self.window_mode)
        padded = pad_to_multiple(x, window)
        windows = self.run_blocks(window_partition(padded, window))  # (B * nW, wh * ww, C)
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
        layer_scale: initial layer scale of the hybrid blocks: a positive float, None for none (as in the
            official network), or 'arch' (the default) for the arch's own (T, T2, S: none; B, L, L2, L3: 1e-5).
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
            says what would be right (the checks are in `argument_checks`).
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
    num_levels = NUM_LEVELS

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 window_size: Optional[Union[int, Sequence[int]]] = None,
                 drop_path_rate: Optional[float] = None,
                 layer_scale: Union[float, None, str] = ARCH_DEFAULT,
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
        super().__init__(init_cfg=pretrained_to_init_cfg(pretrained, init_cfg))
        self.arch = self.resolve_arch(arch)
        dim, depths, heads = self.arch['dim'], self.arch['depths'], self.arch['num_heads']
        window_size = check_window_size(self.arch['window_size'] if window_size is None else window_size,
                                        self.arch['window_size'])
        self.out_indices = check_out_indices(out_indices)
        drop_path_rate = self.arch['drop_path_rate'] if drop_path_rate is None else drop_path_rate
        layer_scale = resolve_layer_scale(layer_scale, self.arch['layer_scale'])
        check_options(in_channels=in_channels, drop_path_rate=drop_path_rate, drop_rate=drop_rate,
                      attn_drop_rate=attn_drop_rate, mlp_ratio=mlp_ratio,
                      frozen_stages=frozen_stages, qkv_bias=qkv_bias, norm_eval=norm_eval, with_cp=with_cp)
        self.in_channels = in_channels
        self.window_size = window_size
        self.window_mode = check_window_mode(window_mode)
        self.drop_path_rate = drop_path_rate
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        #: channels of every level, and of each returned map
        self.num_features = self.arch_channels(self.arch)
        self.out_channels = self.arch_channels(self.arch, self.out_indices)

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
        # built by a detector / segmentor (mmdet's or mmseg's own tools too): a neck or head config that will
        # not take these maps stops here, naming the key and the value to set, not at a conv in the first step
        check_builder_channels(self, self.out_channels)

    @classmethod
    def resolve_arch(cls, arch: Union[str, dict]) -> dict:
        """The arch dict (dim, in_dim, depths, num_heads, window_size, drop_path_rate, layer_scale) of a variant
        name or alias (any case), or of a custom dict.

        Raises:
            ValueError / TypeError: an unknown name, or a dict with missing / unknown keys or bad values.
        """
        return resolve_arch(arch, cls.arch_settings, cls.arch_aliases)

    @classmethod
    def arch_channels(cls, arch: Union[str, dict],
                      out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3)) -> Tuple[int, ...]:
        """Channels of the maps that `MambaVision(arch, out_indices=out_indices)` returns, without building it.

        Raises:
            ValueError / TypeError: a bad arch (see `resolve_arch`) or out_indices.
        """
        dim = cls.resolve_arch(arch)['dim']
        return tuple(dim * 2 ** i for i in check_out_indices(out_indices))

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(B, in_channels, H, W) -> tuple of (B, out_channels[k], H_i, W_i), any H and W."""
        check_input(x, self.in_channels, self.patch_embed.conv_down[0].weight)
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
