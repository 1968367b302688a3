"""tools/analysis_tools/triton_aot.py: the table and JSON of a small sweep, exit code 1 on a kernel that spills."""
import json
import os.path as osp
import runpy

import pytest

pytest.importorskip('triton')
from mmvision_mamba.ops import selective_scan_triton  # noqa: E402

if selective_scan_triton.triton is None:
    pytest.skip('the installed triton has no tl.associative_scan', allow_module_level=True)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
tool = runpy.run_path(osp.join(ROOT, 'tools/analysis_tools/triton_aot.py'))
SMALL = ['--targets', 'sm_90', '--models', 'T', '--settings', 'cls224', '--workers', '1']


def test_table_and_json(tmp_path, capsys) -> None:
    out = tmp_path / 'aot.json'
    assert tool['main'](SMALL + ['--variants', 'none', '--dtypes', 'fp32', '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert '| sm_90 | fwd | fp32 | none | BD8 NP8 BL32 w4 | T.cls224.l2 +1 |' in text
    assert '2 kernels compiled' in text and '0 failing the check' in text
    result = json.loads(out.read_text())
    assert result['targets'] == [dict(name='sm_90', capability=90, max_shared=227 * 1024, cards='H100, H200')]
    assert [(k['kernel'], k['problems']) for k in result['kernels']] == [('fwd', []), ('bwd', [])]
    assert all(k['regs'] > 0 and k['spill_stores'] == 0 and k['shapes'] == ['T.cls224.l2', 'T.cls224.l3']
               for k in result['kernels'])


def test_exit_code_on_a_spilling_config(monkeypatch, capsys) -> None:
    monkeypatch.setitem(selective_scan_triton.TUNING, 'tile', 8192)
    argv = SMALL + ['--variants', 'mambavision', '--dtypes', 'amp-bf16', '--directions', 'fwd']
    assert tool['main'](argv) == 1
    text = capsys.readouterr().out
    assert 'BD32 NP8 BL32 w4' in text and 'spills' in text and 'failing the check' in text


def test_bad_target() -> None:
    with pytest.raises(SystemExit):
        tool['parse_args'](['--targets', 'sm_70'])
