# mask_rcnn_mambavision_t.py with window_mode='fit': the detection windows (8, 8, 112, 56) are
# clipped to each level-2/3 map, so attention and the scan see only the image's own tokens
# instead of a map zero-padded up to 112x112 / 56x56 (cost follows the image, not the window).
# Identical to the official mode wherever a map tiles by its window. For training / fine-tuning:
# the official detection checkpoints were trained with the padding, evaluate them with the
# non-fit config.
_base_ = './mask_rcnn_mambavision_t.py'

model = dict(backbone=dict(window_mode='fit'))
