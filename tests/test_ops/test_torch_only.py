"""The kernels, their self-checks and the scan inputs import and run with torch alone (no mmengine, mmcv, mmdet,
mmseg), as on a GPU machine without mmcv; the import-linter contract checks the imports statically, this runs them."""
from tests.torch_only import run_torch_only

CODE = '''
import mmvision_mamba.ops, mmvision_mamba.testing.scan_inputs
from mmvision_mamba.ops import selective_scan, selective_scan_ref
from mmvision_mamba.ops.self_check import check_scan
from mmvision_mamba.testing import scan_inputs

x = scan_inputs(length=20)
y = selective_scan(**x, delta_softplus=True, backend='reference')
assert (y - selective_scan_ref(**x, delta_softplus=True)).abs().max() < 1e-9
assert check_scan(selective_scan_ref, 'cpu').passed
loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('mmengine', 'mmcv', 'mmdet', 'mmseg', 'cv2'))
assert not loaded, loaded
try:
    import mmengine
except ModuleNotFoundError as err:
    assert 'blocked' in str(err)
else:
    raise AssertionError('mmengine imported')
print('ok')
'''


def test_ops_import_with_torch_alone() -> None:
    res = run_torch_only(CODE)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().endswith('ok')
