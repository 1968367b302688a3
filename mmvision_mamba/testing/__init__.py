from .synthetic_data import SHAPE_CLASSES, SHAPE_PALETTE, make_ade_shapes, make_coco_shapes

__all__ = ['SHAPE_CLASSES', 'SHAPE_PALETTE', 'make_ade_shapes', 'make_coco_shapes']
