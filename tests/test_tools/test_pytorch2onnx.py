"""Smoke test of tools/deployment/pytorch2onnx.py: its argument checks and a tiny backbone through ONNX Runtime (the
exported modules: tests/test_deployment/test_export_target.py)."""
import os.path as osp
import runpy

import pytest

pytest.importorskip('onnxscript')
pytest.importorskip('onnxruntime')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = "dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2))"
BAD_ARGUMENTS = [
    (['missing_config.py', '--shape', '224', '224'], "config file 'missing_config.py' does not exist"),
    (['{cfg}', 'missing.pth', '--shape', '224', '224'], "checkpoint 'missing.pth' does not exist"),
    (['{cfg}', '--shape', '48', '224', '--dynamic'], 'must be >= 64 for a dynamic export'),
    (['{cfg}', '--shape', '224', '224', '--out', 'model.pt'], 'must end with .onnx'),
    (['{cfg}', '--shape', '224'], 'expected 2 arguments'),
    (['{cfg}', '--shape', '224', '224', '--batch', '0'], 'must be positive'),
    (['{cfg}', '--shape', '224', '224', '--opset', '13'], 'choose an opset from 18 to'),
]


def test_pytorch2onnx(tmp_path, capsys) -> None:
    tool = runpy.run_path(osp.join(ROOT, 'tools/deployment/pytorch2onnx.py'))
    cfg = tmp_path / 'backbone.py'
    cfg.write_text(f"model = dict(type='MambaVision', arch={TINY})\n")
    for argv, message in BAD_ARGUMENTS:
        with pytest.raises(SystemExit) as exc:
            tool['main']([a.format(cfg=cfg) for a in argv])
        assert exc.value.code == 2 and message in capsys.readouterr().err, argv
    other = tmp_path / 'other.py'
    other.write_text("model = dict(type='ResNet', depth=18)\n")
    with pytest.raises(SystemExit, match="cannot tell the model's library"):
        tool['main']([str(other), '--shape', '64', '64'])
    result = tool['main']([str(cfg), '--shape', '64', '64', '--repeats', '1', '--out', str(tmp_path / 'b.onnx')])
    assert result['rel_err'] <= 1e-4 and result['outputs'] == 4 and 'ONNX Runtime' in capsys.readouterr().out
