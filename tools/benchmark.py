"""Moved to tools/analysis_tools/benchmark.py (where mmdet keeps its benchmark); runs it with the same arguments."""
import os.path as osp
import runpy
import sys

if __name__ == '__main__':
    print('note: tools/benchmark.py moved to tools/analysis_tools/benchmark.py; running that.', file=sys.stderr)
    runpy.run_path(osp.join(osp.dirname(osp.abspath(__file__)), 'analysis_tools', 'benchmark.py'),
                   run_name='__main__')
