"""`pip install --no-build-isolation [-e] .` leaves an importable CPU kernel: no JIT build at the first forward."""
import os
import shutil
import subprocess
import sys

import pytest

from mmvision_mamba.ops.cpu_kernel import installed_status

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _compiler() -> str:
    from torch.utils.cpp_extension import get_cxx_compiler

    return shutil.which(get_cxx_compiler()) or ''


needs_build = pytest.mark.skipif(
    os.environ.get('MMVM_BUILD_KERNEL') == '0' or not _compiler(),
    reason='no C++ compiler here (or MMVM_BUILD_KERNEL=0): pip install builds no mmvision_mamba._C, and the '
           'reference scan or a JIT build runs instead')


@needs_build
def test_installed_kernel_importable() -> None:
    status, where = installed_status()
    assert status == 'installed', (
        f'mmvision_mamba._C is {status} ({where}): `pip install --no-build-isolation -e .` (what `make` runs) '
        'must build it; after editing ops/csrc, run it again (or `python setup.py build_ext --inplace`).')


@needs_build
def test_first_backbone_forward_compiles_nothing() -> None:
    """A fresh process: the forward loads the installed kernel; torch's JIT loader is never called."""
    code = '''
import torch
import torch.utils.cpp_extension as cpp

def no_jit(*args, **kwargs):
    raise AssertionError('the CPU kernel was JIT-compiled instead of imported')

cpp.load = no_jit
from mmvision_mamba.models import MambaVision
from mmvision_mamba.ops import cpu_kernel, available_backends
model = MambaVision(dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2))).eval()
with torch.no_grad():
    model(torch.randn(1, 3, 64, 64))
assert available_backends(torch.zeros(1, 1, 1))[0] == 'cpu'
print(cpu_kernel.kernel_origin(), cpu_kernel.load_kernel().__name__)
'''
    res = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split()[-2:] == ['installed', 'mmvision_mamba._C'], res.stdout
