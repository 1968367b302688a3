"""tools/demo.py's argument checks (its runs on both inferencers are in test_mambavision2mm.py)."""
import os.path as osp
import runpy

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
demo = runpy.run_path(osp.join(ROOT, 'tools/demo.py'))


def test_missing_files_are_named(tiny_configs, image_file: str, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        demo['parse_args']([image_file, tiny_configs['det'], str(tmp_path / 'none.pth'), '--out-file', 'x.png'])
    assert 'checkpoint not found' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo['parse_args']([image_file, tiny_configs['det'], image_file, '--out-file', 'x.png', '--score-thr', '2'])
    assert '--score-thr' in capsys.readouterr().err


def test_other_scope_is_refused(image_file: str, tmp_path) -> None:
    config = tmp_path / 'cls.py'
    config.write_text("default_scope = 'mmpretrain'\nmodel = dict(type='ImageClassifier')\n")
    with pytest.raises(SystemExit, match="runs 'mmdet' and 'mmseg' configs"):
        demo['build_inferencer'](str(config), image_file, 'cpu')
