"""tools/gpu_check.py, dry-run on the CPU where mmengine, mmcv, mmdet and mmseg cannot be imported (as on a GPU
machine with torch and triton only): it runs the GPU tests (they skip without CUDA, saying why), times the scan
backends on the CPU and writes the JSON."""
import json

from tests.torch_only import run_torch_only

CODE = '''
import runpy
sys.argv = ['tools/gpu_check.py'] + sys.argv[1:]
try:
    runpy.run_path('tools/gpu_check.py', run_name='__main__')
except SystemExit as exit:
    assert not any(name.split('.')[0] in ('mmengine', 'mmcv') for name in sys.modules), 'mm* imported'
    raise
'''


def test_dry_run_without_openmmlab_packages(tmp_path) -> None:
    out = tmp_path / 'gpu_check.json'
    res = run_torch_only(CODE, ['--device', 'cpu', '--shape', '1,4,20', '--runs', '2', '--out', str(out),
                                '--', '-k', 'L7 or opcheck or mambavision'], env=dict(TRITON_INTERPRET='1'))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    result = json.loads(out.read_text())
    tests = result['tests']
    assert tests and result['summary'] == dict(passed=0, failed=0, skipped=len(tests))
    assert all(t['detail'] == 'needs a CUDA device' for t in tests), tests[:3]
    assert any('test_mambavision_matches_reference_scan[tiny]' in t['test'] for t in tests)
    scans = {(r['backend'], r['step'], r['dtype']) for r in result['timings'] if r['what'] == 'scan'}
    assert {('reference', 'fwd', 'float32'), ('reference', 'fwd+bwd', 'mixed')} <= scans
    assert all(r['ms'] > 0 and r['rounds'] == 2 for r in result['timings'] if r['what'] == 'scan')
    assert result['timings'][-1]['what'] == 'mixer' and 'mmengine' in result['timings'][-1]['skipped']
    assert result['environment']['device'] == 'cpu'
