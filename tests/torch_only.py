"""Runs Python in a child process where mmengine, mmcv, mmdet and mmseg cannot be imported (a GPU machine with torch
and triton only): a meta path finder, installed first, refuses them."""
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: what the kernels and the GPU checks must do without
BLOCKED = ('mmengine', 'mmcv', 'mmdet', 'mmseg')
BLOCKER = f'''
import sys


class _Refuse:
    """Finds nothing for the packages of a full OpenMMLab install: their import fails as if uninstalled."""

    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f'No module named {{name!r}} (blocked: a torch-only machine)', name=name)
        return None


sys.meta_path.insert(0, _Refuse())
'''


def run_torch_only(code: str, args: List[str] = (), env: Optional[Dict[str, str]] = None,
                   timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -c BLOCKER + code args...` from the repository root, with it on PYTHONPATH."""
    child_env = dict(os.environ, **(env or {}))
    child_env['PYTHONPATH'] = ROOT + os.pathsep + child_env.get('PYTHONPATH', '')
    return subprocess.run([sys.executable, '-c', BLOCKER + code, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=child_env)
