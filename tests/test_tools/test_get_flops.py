"""tools/analysis_tools/get_flops.py on tiny det / seg configs, a variant name, and bad arguments."""
import os.path as osp
import runpy

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
get_flops = runpy.run_path(osp.join(ROOT, 'tools/analysis_tools/get_flops.py'))


@pytest.mark.parametrize('kind,parts', [('det', {'neck', 'rpn_head', 'roi_head'}),
                                        ('seg', {'decode_head', 'auxiliary_head'})])
def test_whole_model_and_backbone(tiny_configs, kind: str, parts: set, capsys) -> None:
    args = get_flops['parse_args']([tiny_configs[kind], '--shape', '64', '96'])
    whole = get_flops['count'](args)
    groups = whole['groups']
    backbone = ['patch_embed'] + [f'levels.{i}' for i in range(4)] + [f'outnorm{i}' for i in range(4)]
    assert set(groups) - {'(rest)'} == parts | {f'backbone.{p}' for p in backbone}
    assert sum(g['flops'] for g in groups.values()) == whole['flops']
    assert groups['backbone.levels.2']['flops'] > groups['backbone.levels.2']['paper_flops'] > 0
    assert whole['paper_flops'] < whole['flops']
    assert not any(op.startswith(('mmvision_mamba::', 'aten::scaled_dot')) for op in whole['unsupported_ops'])

    get_flops['main']([tiny_configs[kind], '--shape', '64', '96', '--backbone-only'])
    out = capsys.readouterr().out
    out = out[out.index('backbone MambaVision'):]  # after mmengine's log lines
    assert 'input 1x3x64x96' in out and 'windows (4, 4, 4, 2)' in out
    level2 = next(line for line in out.splitlines() if line.startswith('levels.2 '))
    assert level2.split()[1] == f"{groups['backbone.levels.2']['flops'] / 1e9:.2f}"
    assert 'neck' not in out and 'head' not in out


def test_variant_name_counts_the_classifier(capsys) -> None:
    get_flops['main'](['T', '--shape', '64', '64'])
    out = capsys.readouterr().out
    assert 'ImageNet classifier' in out and 'head' in out and '31.79 M' in out


@pytest.mark.parametrize('argv,message', [
    (['no_such_config.py'], 'neither a config file nor a variant name'),
    (['T', '--backbone-only'], 'need a config file'),
])
def test_bad_arguments(argv, message: str, capsys) -> None:
    with pytest.raises(SystemExit, match=message):
        get_flops['main'](argv)


def test_bad_shape(capsys) -> None:
    with pytest.raises(SystemExit):
        get_flops['parse_args'](['T', '--shape', '0', '64'])
    assert 'positive ints' in capsys.readouterr().err
