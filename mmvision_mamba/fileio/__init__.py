"""Reading and writing files: official checkpoints read safely, files written whole. Torch only."""
from .atomic import PARTIAL_SUFFIX, atomic_open, atomic_write, is_partial_file
from .checkpoint_io import load_checkpoint_file, register_safe_globals, sniff_format
from .paths import is_local_path, url_scheme

__all__ = [
    'PARTIAL_SUFFIX', 'atomic_open', 'atomic_write', 'is_local_path', 'is_partial_file', 'load_checkpoint_file',
    'register_safe_globals', 'sniff_format', 'url_scheme'
]
