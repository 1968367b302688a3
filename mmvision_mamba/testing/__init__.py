"""Made-up inputs for tests, self-checks, benchmarks and tools: selective-scan inputs, mmdet / mmseg batches in
memory and small data sets on disk. Imports with torch and numpy alone (the kernels import `scan_inputs`); OpenCV,
mmdet and mmseg are imported when something is made."""
from .mm_inputs import DEMO_BOXES, demo_det_inputs, demo_mm_inputs, demo_seg_inputs
from .scan_inputs import ACTIVATIONS, LAYOUTS, SCAN_ARGS, ScanInputs, mixer_x_proj_width, scan_inputs
from .synthetic_data import SHAPE_CLASSES, SHAPE_PALETTE, make_ade_shapes, make_coco_shapes

__all__ = ['ACTIVATIONS', 'DEMO_BOXES', 'LAYOUTS', 'SCAN_ARGS', 'SHAPE_CLASSES', 'SHAPE_PALETTE', 'ScanInputs',
           'demo_det_inputs', 'demo_mm_inputs', 'demo_seg_inputs', 'make_ade_shapes', 'make_coco_shapes',
           'mixer_x_proj_width', 'scan_inputs']
