from .selective_scan import (available_backends, check_inputs, register_backend, resolve_backend, scan_backend,
                             selective_scan)
from .selective_scan_ref import selective_scan_ref
from . import selective_scan_cpu  # noqa: F401  registers 'cpu' (compiled kernel)
from . import selective_scan_triton  # noqa: F401  registers 'triton' (CUDA, self-checked)
from . import selective_scan_mamba  # noqa: F401  registers 'mamba_ssm' (CUDA, first in 'auto', self-checked)

__all__ = ['selective_scan', 'selective_scan_ref', 'available_backends', 'register_backend', 'resolve_backend',
           'scan_backend', 'check_inputs']
