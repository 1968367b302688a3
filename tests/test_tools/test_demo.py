"""Smoke test of tools/demo.py: its argument checks (the inferencers: tests/test_apis/test_inference.py)."""
import os.path as osp
import runpy

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_demo_arguments(tiny_configs, image_file: str, tmp_path, capsys) -> None:
    demo = runpy.run_path(osp.join(ROOT, 'tools/demo.py'))
    with pytest.raises(SystemExit):
        demo['main']([image_file, tiny_configs['det'], str(tmp_path / 'none.pth'), '--out-file', 'x.png'])
    assert 'checkpoint not found' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo['main']([image_file, tiny_configs['det'], image_file, '--out-file', 'x.png', '--score-thr', '2'])
    assert '--score-thr' in capsys.readouterr().err
    config = tmp_path / 'cls.py'
    config.write_text("default_scope = 'mmpretrain'\nmodel = dict(type='ImageClassifier')\n")
    with pytest.raises(SystemExit, match="run 'mmdet' and 'mmseg' configs"):
        demo['main']([image_file, str(config), image_file, '--out-file', str(tmp_path / 'x.png')])


def test_url_checkpoint_and_default_device(tiny_configs, image_file: str) -> None:
    demo = runpy.run_path(osp.join(ROOT, 'tools/demo.py'))
    url = 'https://example.com/converted.pth'  # downloaded in main(), not when the arguments are read
    args = demo['parse_args']([image_file, tiny_configs['det'], url, '--out-file', 'x.png'])
    assert args.checkpoint == url and args.device is None  # main(): cuda where available, else cpu
