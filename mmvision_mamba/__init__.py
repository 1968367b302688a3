"""MambaVision backbone as an OpenMMLab plugin: `custom_imports=dict(imports=['mmvision_mamba'])`.

`mmvision_mamba.ops` (the selective-scan kernels) needs torch alone; everything else needs mmengine. On a
kernel-only machine (torch + triton, e.g. a GPU box without mmcv) the package imports with just the ops.
"""
from .ops import selective_scan
from .version import __version__

__all__ = ['selective_scan', '__version__']

try:
    import mmengine  # noqa: F401
except ImportError:  # pragma: no cover - exercised on kernel-only machines
    pass
else:
    from . import engine  # noqa: F401  (registers its optimizer constructor, hooks and file backend)
    from .fileio import register_safe_globals
    from .models import MambaVision

    register_safe_globals()
    __all__ += ['MambaVision']
