# cascade_mask_rcnn_mambavision_t_3x.py (the official recipe) with window_mode='fit': the
# detection windows (8, 8, 112, 56) are clipped to each level-2/3 map, so attention and the scan
# see only the image's own tokens, not a map zero-padded up to the window. For training /
# fine-tuning: the official checkpoint of this recipe was trained with the padding, evaluate it
# with cascade_mask_rcnn_mambavision_t_3x.py.
_base_ = './cascade_mask_rcnn_mambavision_t_3x.py'

model = dict(backbone=dict(window_mode='fit'))
