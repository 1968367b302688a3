"""ONNX Runtime against eager PyTorch on one backbone, timed interleaved (tools/analysis_tools/benchmark.py
--suite onnx)."""
import os.path as osp
import time
from typing import List, Sequence

import torch
from mmengine.logging import print_log
from torch import nn

from ..utils.tensor_error import max_errors
from ..utils.timing import Timer, interleave, ratio_stats
from .onnx import OnnxRuntimeModel, count_nodes, export_onnx


def onnx_suite(model: nn.Module, repeats: int, threads: int, out_dir: str, warmup: int = 1,
               opsets: Sequence[int] = (18, 23), name: str = 'mambavision_tiny') -> List[dict]:
    """A backbone on the CPU: ONNX Runtime vs eager PyTorch, fp32, batch 1 at 224 and 512 px from one dynamic export
    per opset (23: attention as one `Attention` op), timed interleaved (:func:`interleave`); ratio = eager / ORT
    time per round. The files are written to `out_dir`; progress goes to mmengine's current logger."""
    model = model.eval()
    sessions, export_s, nodes = {}, {}, {}
    for opset in opsets:
        path = osp.join(out_dir, f'{name}_opset{opset}.onnx')
        start = time.perf_counter()
        export_onnx(model, torch.randn(1, 3, 224, 224), path, dynamic=True, opset_version=opset)
        export_s[opset] = time.perf_counter() - start
        nodes[opset] = count_nodes(path)
        sessions[opset] = OnnxRuntimeModel(path, threads)
    rows = []
    for size in (224, 512):
        x = torch.randn(1, 3, size, size)
        with torch.no_grad():
            ref = model(x)
            errors = {opset: max_errors(ref, session(x))[1] for opset, session in sessions.items()}
            fns = {'eager': lambda: model(x)}
            fns.update({f'ort{opset}': (lambda s=session: s(x)) for opset, session in sessions.items()})
            times = interleave(fns, Timer(x.device), repeats, warmup)
        for opset in opsets:
            stats = ratio_stats({'eager': times['eager'], 'ort': times[f'ort{opset}']}, 'ort', 'ort_speedup')
            rows.append(dict(suite='onnx', model=name, size=f'{size}x{size}', batch=1, opset=opset,
                             eager_ms=stats['eager']['ms'], ort_ms=stats['ort']['ms'],
                             **{k: v for k, v in stats['eager'].items() if k.startswith('ort_speedup')},
                             max_rel_err=errors[opset], export_s=export_s[opset], onnx_nodes=nodes[opset]['total'],
                             scan_nodes=nodes[opset].get('Scan', 0)))
            print_log(f"  onnx {name} {size}x{size} opset {opset}: eager {rows[-1]['eager_ms']:.1f} ms, "
                      f"ONNX Runtime {rows[-1]['ort_ms']:.1f} ms (median speed-up {rows[-1]['ort_speedup']:.2f}x)",
                      logger='current')
    return rows
