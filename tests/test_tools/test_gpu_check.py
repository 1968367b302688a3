"""tools/gpu_check.py loads what it needs (ops, layers, the library's comparator and timer) without mmcv/mmengine."""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SCRIPT = f'''
import importlib.util, sys
for dep in ('mmengine', 'mmcv', 'mmdet', 'mmseg'):
    sys.modules[dep] = None  # import fails, as on a GPU machine with torch only
spec = importlib.util.spec_from_file_location('gpu_check', {osp.join(ROOT, 'tools', 'gpu_check.py')!r})
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)
mods = gpu_check.import_project()
gpu_check.DEVICE = 'cpu'
import torch
x = gpu_check.make_inputs(length=5)
out, last, grads = gpu_check.run(mods.ref.selective_scan_ref, x)
assert gpu_check.compare((out, last, grads), (out, last, grads))['out'] == 0.0
assert gpu_check.rel_err(torch.tensor([1., 2.]), torch.tensor([1., 4.])) == 0.5
assert gpu_check.rel_err(torch.zeros(2), torch.zeros(3)) == float('inf')
assert gpu_check.cuda_time(lambda: None, runs=2, warmup=0) >= 0
assert not any(name.split('.')[0] in ('mmengine', 'mmcv') and mod is not None for name, mod in sys.modules.items())
print('ok')
'''


def test_runs_without_openmmlab_packages() -> None:
    res = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'loading mmvision_mamba.ops' in res.stdout and res.stdout.rstrip().endswith('ok')
