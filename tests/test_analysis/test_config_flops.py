"""count_flops on whole tiny detectors / segmentors (init_model, tensor_forward), what get_flops.py prints."""
import pytest
import torch

from mmvision_mamba.analysis import count_flops, tensor_forward
from mmvision_mamba.apis import init_model


@pytest.mark.parametrize('kind,scope,parts', [('det', 'mmdet', {'neck', 'rpn_head', 'roi_head'}),
                                              ('seg', 'mmseg', {'decode_head', 'auxiliary_head'})])
def test_whole_model_and_backbone(tiny_configs, kind: str, scope: str, parts: set) -> None:
    model = init_model(tiny_configs[kind])
    x = torch.randn(1, 3, 64, 96)
    with tensor_forward(model, scope, (64, 96)) as bound:
        whole = count_flops(bound, x)
    groups = whole['groups']
    backbone = ['patch_embed'] + [f'levels.{i}' for i in range(4)] + [f'outnorm{i}' for i in range(4)]
    assert set(groups) - {'(rest)'} == parts | {f'backbone.{p}' for p in backbone}
    assert sum(g['flops'] for g in groups.values()) == whole['flops']
    assert groups['backbone.levels.2']['flops'] > groups['backbone.levels.2']['paper_flops'] > 0
    assert whole['paper_flops'] < whole['flops']
    assert not any(op.startswith(('mmvision_mamba::', 'aten::scaled_dot')) for op in whole['unsupported_ops'])
    alone = count_flops(model.backbone, x)
    assert alone['groups']['levels.2']['flops'] == groups['backbone.levels.2']['flops']
