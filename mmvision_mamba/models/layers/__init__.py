from .attention import Attention
from .conv_block import ConvBlock
from .drop_path import DropPath
from .embed import Downsample, PatchEmbed
from .hybrid_block import HybridBlock, Mlp
from .mamba_mixer import MambaVisionMixer
from .window import crop, pad_to_multiple, window_partition, window_reverse

__all__ = ['Attention', 'ConvBlock', 'DropPath', 'Downsample', 'PatchEmbed', 'HybridBlock', 'Mlp',
           'MambaVisionMixer', 'crop', 'pad_to_multiple', 'window_partition', 'window_reverse']
