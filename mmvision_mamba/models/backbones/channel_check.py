"""Does a model config's neck (or, without one, its heads) take the channels of its MambaVision backbone?

Read from the config alone, before anything is built: by `tools/train.py` / `tools/test.py`, and by the backbone
itself when a detector or segmentor builds it (so mmdet's and mmseg's own tools stop with the same message).
"""
import inspect
from typing import List, Mapping, Optional, Sequence, Tuple

from torch import nn

from ...utils.config_type import type_name
from .argument_checks import NUM_LEVELS, check_out_indices

#: backbone `type`s (registered names and class names) that these checks know
MAMBAVISION_TYPES = ('MambaVision', 'MM_mamba_vision', 'MambaVisionOfficial')
#: the parts of a detector / segmentor config that take the backbone's maps
_TAKERS = ('neck', 'decode_head', 'auxiliary_head', 'panoptic_head')
#: how many frames above the backbone's constructor the detector's or segmentor's may be
_MAX_FRAMES = 12


def backbone_out_channels(backbone: Mapping) -> Tuple[Tuple[int, ...], Tuple[int, ...], str]:
    """The channels of the maps a MambaVision / MM_mamba_vision backbone config returns, without building it.

    Returns:
        (out_channels, channels of all NUM_LEVELS levels, a description of the backbone for messages).

    Raises:
        ValueError / TypeError: a bad arch, dim or out_indices.
    """
    out_indices = backbone.get('out_indices', (0, 1, 2, 3))
    levels = check_out_indices(out_indices)
    if type_name(backbone) == 'MambaVision':
        from .mambavision import MambaVision
        arch = backbone.get('arch', 'tiny')
        dim, described = MambaVision.resolve_arch(arch)['dim'], f'arch={arch!r}'
    else:
        dim, described = backbone.get('dim'), f"dim={backbone.get('dim')!r}"
        if not (isinstance(dim, int) and dim >= 1):
            raise ValueError(f'dim must be an int >= 1 (the channels of level 0), got {dim!r}.')
    every = tuple(dim * 2**i for i in range(NUM_LEVELS))
    out = tuple(every[i] for i in levels)
    return out, every, (f'the MambaVision backbone ({described}, out_indices={out_indices}) returns maps with '
                        f'out_channels {out}')


def _neck_problem(where: str, in_channels, out: Tuple[int, ...], every: Tuple[int, ...], described: str) -> \
        Optional[str]:
    """A neck takes every map in level order (FPN, ChannelMapper, PAFPN, ...), deepest first (YOLOV3Neck), or,
    given an int, the last one (YOLOF's DilatedEncoder, CenterNet's neck)."""
    if isinstance(in_channels, int):
        if in_channels == out[-1]:
            return None
        return f'{where}.in_channels={in_channels} but {described}: set {where}.in_channels={out[-1]}.'
    if not isinstance(in_channels, (list, tuple)):
        return None
    given = tuple(in_channels)
    if given in (out, out[::-1]):
        return None
    if len(given) == len(out):
        return f'{where}.in_channels={list(given)} but {described}: set {where}.in_channels={list(out)}.'
    if len(given) > NUM_LEVELS:
        return (f'{where}.in_channels={list(given)} takes {len(given)} maps but MambaVision has {NUM_LEVELS} '
                f'levels ({described}).')
    last = tuple(range(NUM_LEVELS - len(given), NUM_LEVELS))
    return (f'{where}.in_channels={list(given)} takes {len(given)} maps but {described}: set '
            f'model.backbone.out_indices={last} and {where}.in_channels={[every[i] for i in last]}, or set '
            f'{where}.in_channels={list(out)}.')


def _head_problems(name: str, head, out: Tuple[int, ...], described: str) -> List[str]:
    """A head's in_channels against the maps its in_index picks (mmseg decode / auxiliary heads: the last map by
    default; a head with a list of in_channels and no in_index, such as Mask2Former's, takes them all), and
    DeepLabV3+'s c1_in_channels against the first map."""
    if not isinstance(head, Mapping) or 'in_channels' not in head:
        return []
    in_channels = head['in_channels']
    takes_all = isinstance(in_channels, (list, tuple)) and 'in_index' not in head
    in_index = list(range(len(out))) if takes_all else head.get('in_index', -1)
    single = isinstance(in_index, int)
    indices = [in_index] if single else list(in_index)
    bad = [i for i in indices if not -len(out) <= i < len(out)]
    if bad:
        return [f'{name}.in_index={in_index} picks map(s) {bad} but the backbone returns only {len(out)} maps '
                f'(out_channels {out}): use indices in [0, {len(out) - 1}] or widen backbone.out_indices.']
    problems = []
    expected = out[in_index] if single else [out[i] for i in indices]
    given = list(in_channels) if isinstance(in_channels, (list, tuple)) else in_channels
    if given != expected:
        problems.append(f'{name}.in_channels={in_channels} but the backbone maps it takes (in_index={in_index}) '
                        f'have {expected} channels: set {name}.in_channels={expected}. ({described})')
    c1 = head.get('c1_in_channels')
    if isinstance(c1, int) and c1 > 0 and c1 != out[0]:
        problems.append(f'{name}.c1_in_channels={c1} but the first backbone map, which it takes, has {out[0]} '
                        f'channels: set {name}.c1_in_channels={out[0]}. ({described})')
    return problems


def channel_problems(model: Mapping) -> List[str]:
    """What in a detector / segmentor config does not take the channels of its MambaVision backbone.

    Args:
        model: a model config (dict) with `backbone` and a `neck` or `decode_head` / `auxiliary_head` /
            `panoptic_head`; a test-time-augmentation wrapper's `module` is looked into.

    Returns:
        One message per mismatch, each naming the key, its value and the value to set; [] when they fit or the
        backbone is no MambaVision.
    """
    while isinstance(model, Mapping) and 'module' in model:
        model = model['module']
    backbone = model.get('backbone') if isinstance(model, Mapping) else None
    if type_name(backbone) not in MAMBAVISION_TYPES:
        return []
    try:
        out, every, described = backbone_out_channels(backbone)
    except (TypeError, ValueError) as e:
        return [f'model.backbone: {e}']
    neck = model.get('neck')
    if neck:
        first = neck[0] if isinstance(neck, (list, tuple)) else neck
        where = 'model.neck[0]' if isinstance(neck, (list, tuple)) else 'model.neck'
        in_channels = first.get('in_channels') if isinstance(first, Mapping) else None
        problem = _neck_problem(where, in_channels, out, every, described)
        return [problem] if problem else []
    problems = []
    for key in _TAKERS[1:]:
        heads = model.get(key)
        listed = isinstance(heads, (list, tuple))
        for i, head in enumerate(heads if listed else [heads]):
            problems += _head_problems(f'model.{key}' + (f'[{i}]' if listed else ''), head, out, described)
    return problems


def builder_model_config(backbone: nn.Module) -> Optional[dict]:
    """The backbone, neck and head configs of the detector / segmentor whose constructor is building `backbone`.

    mmdet's and mmseg's models build their backbone with `MODELS.build(backbone)` in `__init__`, where the
    neck and head configs are the constructor's arguments: the nearest such caller frame is read.

    Returns:
        None when `backbone` is not being built that way (built directly, in a classifier, ...).
    """
    frame = inspect.currentframe()
    try:
        caller = frame.f_back
        for _ in range(_MAX_FRAMES):
            if caller is None:
                return None
            if caller.f_code.co_name == '__init__':
                scope = caller.f_locals
                owner = scope.get('self')
                if (isinstance(owner, nn.Module) and owner is not backbone
                        and type_name(scope.get('backbone')) in MAMBAVISION_TYPES):
                    return {k: scope[k] for k in ('backbone', *_TAKERS) if scope.get(k) is not None}
            caller = caller.f_back
        return None
    finally:
        del frame


def check_builder_channels(backbone: nn.Module, out_channels: Sequence[int]) -> None:
    """Raises when the detector / segmentor building `backbone` has a neck or head that will not take its maps.

    Raises:
        ValueError: one line per mismatch, with the key, its value and the value to set.
    """
    model = builder_model_config(backbone)
    problems = channel_problems(model) if model else []
    if problems:
        raise ValueError('the config does not fit the MambaVision backbone (out_channels '
                         f'{tuple(out_channels)}):\n' + '\n'.join(problems))
