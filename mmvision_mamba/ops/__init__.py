from .selective_scan import available_backends, register_backend, selective_scan
from .selective_scan_ref import selective_scan_ref
from . import selective_scan_cpu  # noqa: F401,E402  registers 'cpu' (compiled kernel)
from . import selective_scan_triton  # noqa: F401,E402  registers 'triton' (CUDA, first in 'auto')
from . import selective_scan_mamba  # noqa: F401,E402  registers 'mamba_ssm' (CUDA, opt-in)

__all__ = ['selective_scan', 'selective_scan_ref', 'available_backends', 'register_backend']
