# upernet_mambavision_t_512x512_160k_ade20k.py (the official recipe) with window_mode='fit': the
# windows (8, 8, 64, 32) are clipped to each level-2/3 map (32x32 / 16x16 for a 512x512 crop),
# so attention and the scan see only real tokens, not a map zero-padded up to 64x64 / 32x32.
# For training / fine-tuning: the official checkpoint was trained with the padding, evaluate it
# with the non-fit config.
_base_ = './upernet_mambavision_t_512x512_160k_ade20k.py'

model = dict(backbone=dict(window_mode='fit'))
