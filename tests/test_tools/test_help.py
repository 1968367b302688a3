"""Smoke test of the tools without another: each prints its --help."""
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('tool', ['tools/analysis_tools/compare_window_modes.py', 'tools/quickstart.py'])
def test_help(tool: str) -> None:
    proc = subprocess.run([sys.executable, tool, '--help'], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and 'usage:' in proc.stdout, proc.stderr[-2000:]
