"""Layer-wise learning-rate decay for detectors / segmentors with a MambaVision backbone."""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

_LEVEL_PARAM = re.compile(r'^levels\.(\d+)\.(?:blocks\.(\d+)|downsample)\.')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MambaVisionLayerDecayOptimizerConstructor(DefaultOptimWrapperConstructor):
    """Layer-wise (or stage-wise) learning-rate decay for a MambaVision backbone.

    The counterpart of mmseg's / mmpretrain's ``LearningRateDecayOptimizerConstructor`` (which
    only know ConvNeXt and BEiT). Registered in mmengine's root ``OPTIM_WRAPPER_CONSTRUCTORS``,
    so mmdet, mmseg and plain mmengine configs all find it::

        optim_wrapper = dict(
            type='AmpOptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
            constructor='MambaVisionLayerDecayOptimizerConstructor',
            paramwise_cfg=dict(decay_rate=0.9, decay_type='layer_wise'))

    Every parameter gets a layer id:

    * ``backbone.patch_embed.*`` -> 0;
    * ``backbone.levels.i.blocks.j.*`` -> ``1 + sum(depths[:i]) + j`` ('layer_wise') or
      ``i + 1`` ('stage_wise');
    * ``backbone.levels.i.downsample.*`` -> the id of the first block of level ``i + 1``
      (it produces that level's input);
    * ``backbone.outnorm*`` and everything outside the backbone (neck, heads) ->
      ``num_layers + 1``.

    and the learning rate ``lr * decay_rate ** (num_layers + 1 - layer_id)``: the heads, neck
    and output norms train at the full rate, the last backbone block at ``lr * decay_rate``,
    the stem at ``lr * decay_rate ** (num_layers + 1)``.

    Weight decay is ``weight_decay`` for weight matrices and kernels and 0 for every 1-D
    parameter (norm weights and biases, all biases, layer-scale gammas, the SSM skip ``D``)
    and for the SSM ``A_log``. Parameters with ``requires_grad=False`` (frozen stages) are
    left out of the optimizer.

    ``paramwise_cfg`` keys:

    * ``decay_rate`` (float, required): the per-layer decay factor, e.g. 0.9.
    * ``decay_type`` (str): 'layer_wise' (default; one layer per block) or 'stage_wise'
      (one layer per level).
    * ``num_layers`` (int, optional): the number of decayed backbone layers; default: the
      total number of blocks for 'layer_wise' (T: 16, S: 18, B: 21, L3: 36) and 4 for
      'stage_wise'. A larger value decays the whole backbone by extra factors; a smaller
      value than the backbone has is an error.
    * ``custom_keys`` (dict, optional): as for mmengine's default constructor: the first
      (longest) key that is a substring of a parameter's full name multiplies its learning
      rate by ``lr_mult`` and its weight decay (after the rules above) by ``decay_mult``.
    * ``norm_decay_mult``, ``bias_decay_mult``, ``flat_decay_mult``: accepted only as 0 (what
      the rules above already do), so configs that set them can switch constructors; any
      other mmengine paramwise option is rejected rather than silently ignored.

    The backbone is found as ``model.backbone`` (mmdet/mmseg models), or is the model itself.
    """

    _backbone_prefix = 'backbone'
    _decay_types = ('layer_wise', 'stage_wise')
    _own_keys = {'decay_rate', 'decay_type', 'num_layers', 'custom_keys'}
    _builtin_zero_keys = {'norm_decay_mult', 'bias_decay_mult', 'flat_decay_mult'}

    def _validate_cfg(self) -> None:
        super()._validate_cfg()
        cfg = self.paramwise_cfg
        unknown = set(cfg) - self._own_keys - self._builtin_zero_keys
        if unknown:
            raise ValueError(f'{type(self).__name__} does not support the paramwise_cfg keys '
                             f'{sorted(unknown)}; it supports {sorted(self._own_keys)} (and '
                             f'{sorted(self._builtin_zero_keys)} set to 0).')
        for key in self._builtin_zero_keys & set(cfg):
            if cfg[key] != 0:
                raise ValueError(f'{type(self).__name__} gives norms, biases and 1-D parameters '
                                 f'no weight decay; {key}={cfg[key]} is not supported (only 0).')
        if 'decay_rate' not in cfg:
            raise ValueError(f"{type(self).__name__} needs paramwise_cfg['decay_rate'], e.g. 0.9.")
        if not 0. < float(cfg['decay_rate']) <= 1.:
            raise ValueError(f"decay_rate must be in (0, 1], got {cfg['decay_rate']}.")
        if cfg.get('decay_type', 'layer_wise') not in self._decay_types:
            raise ValueError(f"decay_type must be one of {self._decay_types}, got "
                             f"{cfg.get('decay_type')!r}.")

    def _find_backbone(self, module: nn.Module) -> Tuple[nn.Module, str]:
        backbone = getattr(module, self._backbone_prefix, None)
        if backbone is not None and hasattr(backbone, 'levels') and hasattr(backbone, 'patch_embed'):
            return backbone, f'{self._backbone_prefix}.'
        if hasattr(module, 'levels') and hasattr(module, 'patch_embed'):
            return module, ''
        raise TypeError(f'{type(self).__name__} needs a MambaVision backbone as `model.'
                        f'{self._backbone_prefix}` (or the model itself); '
                        f'{type(module).__name__} has none.')

    def _layer_ids(self, depths: Sequence[int]) -> Tuple[Dict[Tuple[int, str], int], int]:
        """Layer id of each level's blocks / downsample, and the default num_layers."""
        ids: Dict[Tuple[int, str], int] = {}
        stage_wise = self.paramwise_cfg.get('decay_type', 'layer_wise') == 'stage_wise'
        first_block = [1 + sum(depths[:i]) for i in range(len(depths) + 1)]
        for i, depth in enumerate(depths):
            for j in range(depth):
                ids[(i, str(j))] = i + 1 if stage_wise else first_block[i] + j
            # the downsample feeds level i + 1: it shares the id of that level's first block
            ids[(i, 'downsample')] = i + 2 if stage_wise else first_block[i + 1]
        return ids, len(depths) if stage_wise else sum(depths)

    def get_layer_id(self, name: str, ids: Dict[Tuple[int, str], int], num_layers: int,
                     prefix: str) -> int:
        """Layer id of the parameter `name` (full name in the model)."""
        if not name.startswith(prefix):
            return num_layers + 1
        local = name[len(prefix):]
        if local.startswith('patch_embed.'):
            return 0
        match = _LEVEL_PARAM.match(local)
        if match is None:  # outnorm* and anything else the backbone may hold
            return num_layers + 1
        level, block = int(match.group(1)), match.group(2)
        return ids[(level, 'downsample' if block is None else block)]

    @staticmethod
    def _no_decay(name: str, param: nn.Parameter) -> bool:
        return param.ndim <= 1 or name.endswith('.bias') or name.split('.')[-1] in ('A_log', 'D')

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module: Optional[float] = None) -> None:
        """Appends one parameter group per (layer, lr, weight decay) to `params`."""
        cfg = self.paramwise_cfg
        backbone, bb_prefix = self._find_backbone(module)
        depths = [len(level.blocks) for level in backbone.levels]
        ids, default_layers = self._layer_ids(depths)
        num_layers = int(cfg.get('num_layers', default_layers))
        if num_layers < default_layers:
            raise ValueError(f"num_layers={num_layers} is smaller than the {default_layers} "
                             f"{cfg.get('decay_type', 'layer_wise')} layers of this backbone "
                             f'(depths {tuple(depths)}).')
        decay_rate = float(cfg['decay_rate'])
        custom_keys = cfg.get('custom_keys', {})
        sorted_keys = sorted(sorted(custom_keys), key=len, reverse=True)

        groups: 'OrderedDict[tuple, dict]' = OrderedDict()
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer_id = self.get_layer_id(name, ids, num_layers, bb_prefix)
            lr_scale = decay_rate ** (num_layers + 1 - layer_id)
            no_decay = self._no_decay(name, param)
            lr_mult, decay_mult = 1., 1.
            key = next((k for k in sorted_keys if k in name), None)
            if key is not None:
                lr_mult = custom_keys[key].get('lr_mult', 1.)
                decay_mult = custom_keys[key].get('decay_mult', 1.)
            group_key = (layer_id, no_decay, key)
            if group_key not in groups:
                group = dict(params=[], param_names=[], layer_id=layer_id, lr_scale=lr_scale)
                if self.base_lr is not None:
                    group['lr'] = self.base_lr * lr_scale * lr_mult
                if self.base_wd is not None:
                    group['weight_decay'] = 0. if no_decay else self.base_wd * decay_mult
                groups[group_key] = group
            groups[group_key]['params'].append(param)
            groups[group_key]['param_names'].append(name)
        params.extend(groups.values())
        print_log(f'{type(self).__name__}: {cfg.get("decay_type", "layer_wise")} decay_rate='
                  f'{decay_rate}, num_layers={num_layers} (depths {tuple(depths)}), '
                  f'{len(groups)} parameter groups', logger='current')
        for group in groups.values():
            print_log(f"  layer {group['layer_id']}: lr={group.get('lr')} "
                      f"weight_decay={group.get('weight_decay')} {len(group['params'])} tensors "
                      f"(first {group['param_names'][0]})", logger='current', level=10)
