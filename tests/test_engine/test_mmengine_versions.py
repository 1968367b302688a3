"""The checkpoint hooks and the resumable loops under the oldest and the newest mmengine that setup.py allows (`mmengine>=0.10.0,<1.0`):
each release is installed with `pip install --target` into a folder put first on PYTHONPATH (mmengine is pure
Python; torch, mmcv and the rest come from this environment), and their tests run against it in a subprocess.
Needs the package index (skipped offline); $MMVM_MMENGINE_VERSIONS (space-separated) picks other releases."""
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HOOK_TESTS = ['tests/test_engine/test_atomic_checkpoint_hook.py', 'tests/test_engine/test_resumable_loops.py',
              'tests/test_engine/test_preemption_hook.py']
VERSIONS = os.environ.get('MMVM_MMENGINE_VERSIONS', '0.10.0 0.10.7').split()
pytestmark = pytest.mark.e2e


@pytest.mark.parametrize('version', VERSIONS)
def test_hook_under_mmengine(version: str, tmp_path_factory) -> None:
    target = str(tmp_path_factory.mktemp(f'mmengine-{version}'))
    pip = subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps', '--target', target,
                          f'mmengine=={version}'], capture_output=True, text=True, timeout=300)
    if pip.returncode != 0:
        pytest.skip(f'could not install mmengine {version}: {pip.stderr.strip()[-300:]}')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (target, ROOT, os.environ.get('PYTHONPATH')) if p))
    check = 'import mmengine, sys; sys.exit(mmengine.__version__ != sys.argv[1])'
    assert subprocess.run([sys.executable, '-c', check, version], env=env).returncode == 0
    run = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', *HOOK_TESTS], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
