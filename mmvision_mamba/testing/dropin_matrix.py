"""MambaVision dropped into mmdet 3.3's / mmseg 1.2's own configs: which architectures, from which base config,
and what to set. tests/test_models/test_dropin_matrix.py trains each one a step; the table of
docs/en/user_guides/any_config.md is rendered from here (`python -m mmvision_mamba.testing.dropin_matrix`
rewrites it; a test asserts that the committed page is the rendered one).
"""
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Mapping, Sequence, Tuple, Union

#: a config key's channels: one level's (an int) or a list of levels' (a tuple)
Levels = Union[int, Tuple[int, ...]]

#: the normalisation of the MambaVision checkpoints (ImageNet mean / std, RGB); bases of Caffe-style ResNets,
#: RTMDet and YOLOX normalise otherwise
IMAGENET_RGB = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
_ALL = (0, 1, 2, 3)


@dataclass(frozen=True)
class DropIn:
    """One architecture of mmdet / mmseg with a MambaVision backbone.

    Args:
        architecture: its name, as in the docs table.
        base: the mmdet / mmseg config it starts from, as `mmdet::PATH` / `mmseg::PATH`.
        channels: model config key (dotted, relative to `model`; list items by index) -> the backbone level(s)
            whose channels it takes.
        out_indices: the backbone levels the neck / heads take.
        settings: other model config keys (dotted) to set, and their values.
        note: a remark for the docs table.
    """

    architecture: str
    base: str
    channels: Mapping[str, Levels]
    out_indices: Tuple[int, ...] = _ALL
    settings: Mapping[str, object] = field(default_factory=dict)
    note: str = ''

    @property
    def library(self) -> str:
        """'mmdet' or 'mmseg'."""
        return self.base.split('::', 1)[0]

    def to_set(self, channels: Sequence[Union[int, str]]) -> Dict[str, object]:
        """The model config keys to set (dotted, relative to `model`) and their values, the backbone's
        out_indices first.

        Args:
            channels: the channels of the 4 backbone levels (ints, or names such as 'C0' for the docs).
        """
        keys: Dict[str, object] = {}
        if self.out_indices != _ALL:
            keys['backbone.out_indices'] = self.out_indices
        for key, levels in self.channels.items():
            keys[key] = channels[levels] if isinstance(levels, int) else [channels[i] for i in levels]
        keys.update(self.settings)
        return keys


def _neck(*levels: int) -> Dict[str, Levels]:
    return {'neck.in_channels': levels or _ALL}


_D8_HEADS = {'decode_head.in_channels': 3, 'auxiliary_head.in_channels': 2}
_NO_RESNET = {'pretrained': None}
_D8_NOTE = 'maps at strides 4-32, where the dilated ResNet gives 8'

#: the architectures, each tested by tests/test_models/test_dropin_matrix.py (none is shipped in configs/)
MATRIX: Tuple[DropIn, ...] = (
    # mmdet: two-stage and cascade
    DropIn('Faster R-CNN', 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', _neck()),
    DropIn('Cascade R-CNN', 'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py', _neck()),
    DropIn('Sparse R-CNN', 'mmdet::sparse_rcnn/sparse-rcnn_r50_fpn_1x_coco.py', _neck()),
    DropIn('PointRend (instance)', 'mmdet::point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py', _neck(),
           settings={'data_preprocessor': IMAGENET_RGB}, note='Caffe-style base: normalise as ImageNet RGB'),
    # mmdet: one-stage
    DropIn('RetinaNet', 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', _neck()),
    DropIn('FCOS', 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py', _neck(),
           settings={'data_preprocessor': IMAGENET_RGB}, note='Caffe-style base: normalise as ImageNet RGB'),
    DropIn('ATSS', 'mmdet::atss/atss_r50_fpn_1x_coco.py', _neck()),
    DropIn('GFL', 'mmdet::gfl/gfl_r50_fpn_1x_coco.py', _neck()),
    DropIn('CenterNet (update)', 'mmdet::centernet/centernet-update_r50-caffe_fpn_ms-1x_coco.py', _neck(),
           settings={'data_preprocessor': IMAGENET_RGB}, note='Caffe-style base: normalise as ImageNet RGB'),
    DropIn('SOLOv2', 'mmdet::solov2/solov2_r50_fpn_1x_coco.py', _neck()),
    DropIn('RTMDet', 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py', _neck(1, 2, 3), out_indices=(1, 2, 3),
           settings={'data_preprocessor': IMAGENET_RGB}, note='three levels (strides 8-32); the base is BGR'),
    DropIn('RTMDet-Ins', 'mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py', _neck(1, 2, 3), out_indices=(1, 2, 3),
           settings={'data_preprocessor': IMAGENET_RGB}, note='three levels (strides 8-32); the base is BGR'),
    DropIn('YOLOX', 'mmdet::yolox/yolox_tiny_8xb8-300e_coco.py', _neck(1, 2, 3), out_indices=(1, 2, 3),
           settings={'data_preprocessor': IMAGENET_RGB},
           note='three levels (strides 8-32); the base does not normalise'),
    # mmdet: DETR-like and query-based
    DropIn('DETR', 'mmdet::detr/detr_r50_8xb2-150e_coco.py', _neck(3), out_indices=(3, )),
    DropIn('Conditional DETR', 'mmdet::conditional_detr/conditional-detr_r50_8xb2-50e_coco.py', _neck(3),
           out_indices=(3, )),
    DropIn('DAB-DETR', 'mmdet::dab_detr/dab-detr_r50_8xb2-50e_coco.py', _neck(3), out_indices=(3, )),
    DropIn('Deformable DETR', 'mmdet::deformable_detr/deformable-detr_r50_16xb2-50e_coco.py', _neck(1, 2, 3),
           out_indices=(1, 2, 3)),
    DropIn('Mask2Former (panoptic)', 'mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py',
           {'panoptic_head.in_channels': _ALL}),
    # mmseg (its ResNet bases set model.pretrained to ResNet weights)
    DropIn('FCN', 'mmseg::_base_/models/fcn_r50-d8.py', _D8_HEADS, settings=_NO_RESNET, note=_D8_NOTE),
    DropIn('PSPNet', 'mmseg::_base_/models/pspnet_r50-d8.py', _D8_HEADS, settings=_NO_RESNET, note=_D8_NOTE),
    DropIn('DeepLabV3+', 'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
           {'decode_head.in_channels': 3, 'decode_head.c1_in_channels': 0, 'auxiliary_head.in_channels': 2},
           settings=_NO_RESNET, note=_D8_NOTE),
    DropIn('DANet', 'mmseg::_base_/models/danet_r50-d8.py', _D8_HEADS, settings=_NO_RESNET, note=_D8_NOTE),
    DropIn('GCNet', 'mmseg::_base_/models/gcnet_r50-d8.py', _D8_HEADS, settings=_NO_RESNET, note=_D8_NOTE),
    DropIn('NonLocal Net', 'mmseg::_base_/models/nonlocal_r50-d8.py', _D8_HEADS, settings=_NO_RESNET,
           note=_D8_NOTE),
    DropIn('EncNet', 'mmseg::_base_/models/encnet_r50-d8.py',
           {'decode_head.in_channels': (1, 2, 3), 'auxiliary_head.in_channels': 2}, settings=_NO_RESNET,
           note=_D8_NOTE),
    DropIn('ANN', 'mmseg::_base_/models/ann_r50-d8.py',
           {'decode_head.in_channels': (2, 3), 'auxiliary_head.in_channels': 2}, settings=_NO_RESNET,
           note=_D8_NOTE),
    DropIn('OCRNet', 'mmseg::_base_/models/ocrnet_r50-d8.py',
           {'decode_head.0.in_channels': _ALL, 'decode_head.1.in_channels': _ALL},
           settings=dict(_NO_RESNET, **{f'decode_head.{i}.{k}': v for i in (0, 1)
                                        for k, v in (('in_index', _ALL), ('input_transform', 'resize_concat'))}),
           note="two cascaded heads (list items by index) on one map size: all levels resized and concatenated, "
                "as mmseg's HRNet OCRNet"),
    DropIn('PointRend (semantic)', 'mmseg::_base_/models/pointrend_r50.py', _neck(), settings=_NO_RESNET),
    DropIn('SegFormer head', 'mmseg::_base_/models/segformer_mit-b0.py', {'decode_head.in_channels': _ALL}),
)

#: the channel names of the docs table: Ci is the channels of level i
SYMBOLS = ('C0', 'C1', 'C2', 'C3')
#: where the docs page keeps its generated table
PAGE = Path(__file__).resolve().parents[2] / 'docs' / 'en' / 'user_guides' / 'any_config.md'
BEGIN, END = '<!-- dropin-table: begin (generated) -->', '<!-- dropin-table: end -->'


def _value(value) -> str:
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, tuple):
        return '(' + ', '.join(map(_value, value)) + (',)' if len(value) == 1 else ')')
    if isinstance(value, list):
        return '[' + ', '.join(map(_value, value)) + ']'
    if isinstance(value, str):
        return value if value in SYMBOLS else repr(value)
    if value == IMAGENET_RGB:
        return 'IMAGENET_RGB'
    raise TypeError(f'no docs rendering for {value!r}')


def render_table(matrix: Sequence[DropIn] = MATRIX) -> str:
    """The Markdown table of `matrix`: architecture, base config, the model keys to set besides the backbone."""
    rows = ['| architecture | base config | set in `model` (besides the backbone) | note |', '|---|---|---|---|']
    for case in matrix:
        keys = '<br>'.join(f'`{k}={_value(v)}`' for k, v in case.to_set(SYMBOLS).items())
        rows.append(f'| {case.architecture} | `{case.base}` | {keys} | {case.note} |')
    return '\n'.join(rows)


def render_page(text: str, matrix: Sequence[DropIn] = MATRIX) -> str:
    """`text` (the docs page) with the part between BEGIN and END replaced by `render_table(matrix)`.

    Raises:
        ValueError: the markers are missing.
    """
    pattern = re.compile(re.escape(BEGIN) + r'\n(?:.*?\n)?' + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f'the page has no {BEGIN!r} ... {END!r} section for the table')
    return pattern.sub(lambda _: f'{BEGIN}\n{render_table(matrix)}\n{END}', text)


if __name__ == '__main__':
    page = Path(sys.argv[1]) if len(sys.argv) > 1 else PAGE
    page.write_text(render_page(page.read_text(encoding='utf-8')), encoding='utf-8')
    print(f'{page}: table of {len(MATRIX)} architectures written')
