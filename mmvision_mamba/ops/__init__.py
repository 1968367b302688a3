from .selective_scan import available_backends, register_backend, selective_scan
from .selective_scan_ref import selective_scan_ref

__all__ = ['selective_scan', 'selective_scan_ref', 'available_backends', 'register_backend']
