"""MambaVision backbone as an OpenMMLab plugin: `custom_imports=dict(imports=['mmvision_mamba'])`."""
from . import engine  # noqa: F401  (registers its optimizer constructor, hook and file backend)
from .models import MambaVision
from .ops import selective_scan
from .utils import register_safe_globals
from .version import __version__

register_safe_globals()

__all__ = ['MambaVision', 'selective_scan', '__version__']
