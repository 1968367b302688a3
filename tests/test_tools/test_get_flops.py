"""Smoke test of tools/analysis_tools/get_flops.py (whole-model counts: tests/test_analysis/test_config_flops.py)."""
import os.path as osp
import runpy

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_get_flops(tiny_configs, capsys) -> None:
    get_flops = runpy.run_path(osp.join(ROOT, 'tools/analysis_tools/get_flops.py'))
    get_flops['main'](['T', '--shape', '64', '64'])
    out = capsys.readouterr().out
    assert 'ImageNet classifier' in out and 'head' in out and '31.79 M' in out
    get_flops['main']([tiny_configs['seg'], '--shape', '64', '96', '--backbone-only'])
    out = capsys.readouterr().out
    out = out[out.index('backbone MambaVision'):]  # after mmengine's log lines
    assert 'input 1x3x64x96' in out and 'windows (4, 4, 4, 2)' in out and 'levels.2 ' in out
    assert 'neck' not in out and 'head' not in out
    for argv, message in [(['no_such_config.py'], 'neither a config file nor a variant name'),
                          (['T', '--backbone-only'], 'need a config file')]:
        with pytest.raises(SystemExit, match=message):
            get_flops['main'](argv)
    with pytest.raises(SystemExit):
        get_flops['parse_args'](['T', '--shape', '0', '64'])
    assert 'positive ints' in capsys.readouterr().err
