from .attention import Attention
from .conv_block import ConvBlock
from .drop_path import DropPath
from .embed import Downsample, PatchEmbed
from .hybrid_block import HybridBlock, Mlp
from .mamba_mixer import MambaVisionMixer
from .norm import build_out_norm
from .window import (WINDOW_MODES, check_window_mode, crop, level_window, pad_to_multiple, window_partition,
                     window_reverse)

__all__ = ['Attention', 'ConvBlock', 'DropPath', 'Downsample', 'PatchEmbed', 'HybridBlock', 'Mlp',
           'MambaVisionMixer', 'build_out_norm', 'WINDOW_MODES', 'check_window_mode', 'crop', 'level_window',
           'pad_to_multiple', 'window_partition', 'window_reverse']
