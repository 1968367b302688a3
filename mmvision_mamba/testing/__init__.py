"""Made-up inputs for tests, benchmarks and tools: data sets on disk and mmdet / mmseg batches in memory. Imports with
torch and numpy alone; OpenCV, mmdet and mmseg are imported when something is made."""
from .mm_inputs import DEMO_BOXES, demo_det_inputs, demo_mm_inputs, demo_seg_inputs
from .synthetic_data import SHAPE_CLASSES, SHAPE_PALETTE, make_ade_shapes, make_coco_shapes

__all__ = ['DEMO_BOXES', 'SHAPE_CLASSES', 'SHAPE_PALETTE', 'demo_det_inputs', 'demo_mm_inputs', 'demo_seg_inputs',
           'make_ade_shapes', 'make_coco_shapes']
