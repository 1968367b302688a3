"""Smoke test of tools/analysis_tools/benchmark.py, through its old path tools/benchmark.py (the library is tested
in tests/test_analysis/test_benchmark.py)."""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_old_path_forwards_its_arguments() -> None:
    res = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'benchmark.py'), '--suite', 'nope'],
                         capture_output=True, text=True, timeout=120)
    assert 'moved to tools/analysis_tools/benchmark.py' in res.stderr
    assert res.returncode == 2 and "argument --suite: invalid choice: 'nope'" in res.stderr
