"""Deployment: torch.export and ONNX export with dynamic shapes, the exportable wrappers of mmseg segmentors and
mmdet detectors, ONNX Runtime checks."""
from .adaptive_pool import ExportableAdaptiveAvgPool2d, replace_adaptive_avg_pools
from .detector_tensors import DetectorTensors
from .export_target import export_target
from .onnx import (MAX_SIZE, MIN_SIZE, OnnxRuntimeModel, check_opset, compare_with_onnxruntime, count_nodes,
                   dynamic_shapes, export_context, export_onnx, export_program, flatten_outputs, newest_opset,
                   run_onnxruntime)
from .scan_onnx import OPSET, onnx_translations, selective_scan_fwd_onnx
from .segmentor_logits import SegmentorLogits

__all__ = ['DetectorTensors', 'ExportableAdaptiveAvgPool2d', 'MAX_SIZE', 'MIN_SIZE', 'OPSET', 'OnnxRuntimeModel',
           'SegmentorLogits', 'check_opset', 'compare_with_onnxruntime', 'count_nodes', 'dynamic_shapes',
           'export_context', 'export_onnx', 'export_program', 'export_target', 'flatten_outputs', 'newest_opset',
           'onnx_translations', 'replace_adaptive_avg_pools', 'run_onnxruntime', 'selective_scan_fwd_onnx']
