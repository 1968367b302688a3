"""`python -m mmvision_mamba.info`: versions, backends, 'auto' choices, kernel state, self-checks."""
import os
import re
import subprocess
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_info_report() -> None:
    res = subprocess.run([sys.executable, '-m', 'mmvision_mamba.info'], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    out = res.stdout
    assert res.returncode == 0, out + res.stderr[-3000:]
    assert re.search(r'^python 3\.\d+', out, re.M)
    assert re.search(rf'^torch +{re.escape(torch.__version__)}$', out, re.M)
    for name in ('mmengine', 'mmcv', 'mmdet', 'mmseg', 'triton', 'mamba_ssm', 'causal_conv1d'):
        assert re.search(rf'^{name} +\S', out, re.M), name
    assert re.search(r'^  cpu kernel \(mmvision_mamba\._C\) +(built at install time|not built|stale)', out, re.M)
    assert 'scan backends, in "auto" order: mamba_ssm, triton, cpu, reference' in out
    assert re.search(r'^  auto on CPU: +cpu$', out, re.M)
    if not torch.cuda.is_available():
        assert re.search(r'^  auto on CUDA: no CUDA device here$', out, re.M)
    rows = dict(re.findall(r'^  scan (\w+) +cpu +max abs error (\S+) .* PASS$', out, re.M))
    assert set(rows) == {'cpu', 'reference'}, out
    assert all(0 < float(err) < 1e-4 for err in rows.values()), rows
