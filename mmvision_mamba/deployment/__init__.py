"""Deployment: torch.export and ONNX export with dynamic shapes, ONNX Runtime checks."""
from .adaptive_pool import ExportableAdaptiveAvgPool2d, replace_adaptive_avg_pools
from .onnx import (MAX_SIZE, MIN_SIZE, OnnxRuntimeModel, check_opset, count_nodes, dynamic_shapes, export_context,
                   export_onnx, export_program, flatten_outputs, newest_opset, run_onnxruntime)
from .scan_onnx import OPSET, onnx_translations, selective_scan_fwd_onnx

__all__ = ['ExportableAdaptiveAvgPool2d', 'replace_adaptive_avg_pools', 'MAX_SIZE', 'MIN_SIZE', 'OPSET',
           'OnnxRuntimeModel', 'check_opset', 'count_nodes', 'dynamic_shapes', 'export_context', 'export_onnx',
           'export_program', 'flatten_outputs', 'newest_opset', 'run_onnxruntime', 'onnx_translations',
           'selective_scan_fwd_onnx']
