"""Loads the compiled CPU selective-scan kernel: the installed `mmvision_mamba._C`, else a JIT build of its source."""
import hashlib
import importlib
import logging
import os
import sys
import threading
import warnings
from types import ModuleType
from typing import List, Optional, Tuple

import torch

#: steps between the states the forward saves for the backward; must equal kChunk in the C++ source
CHUNK_LEN = 16
#: the extension's source, also compiled by setup.py
SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'csrc')
SOURCES = [os.path.join(SOURCE_DIR, 'selective_scan_cpu.cpp')]
_REQUIRED = ('selective_scan_fwd', 'selective_scan_bwd', 'chunk_len', 'source_hash', 'supported_isas', 'set_isa',
             'get_isa')

_lock = threading.Lock()
_state: dict = {'tried': False, 'module': None, 'origin': None}
logger = logging.getLogger(__name__)


def source_hash() -> str:
    """Hash of the kernel's source files; a build that reports another one is stale."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(SOURCE_DIR)):
        if name.endswith(('.cpp', '.h')):
            with open(os.path.join(SOURCE_DIR, name), 'rb') as f:
                digest.update(f.read())
    return 'h' + digest.hexdigest()[:16]


def build_flags() -> Tuple[List[str], List[str]]:
    """Compiler and linker flags: -O3, the source hash, and OpenMP where at::parallel_for needs it (Linux)."""
    openmp = ['-fopenmp'] if sys.platform.startswith('linux') else []
    return ['-O3', f'-DMMVM_SOURCE_HASH={source_hash()}'] + openmp, openmp


def _usable(module: ModuleType) -> bool:
    return (all(hasattr(module, name) for name in _REQUIRED) and module.chunk_len() == CHUNK_LEN
            and module.source_hash() == source_hash())


def installed_status() -> Tuple[str, str]:
    """State of the install-time build, without building anything: ('installed', path), ('stale', path) when it
    was built from other sources, or ('missing', why)."""
    try:
        module = importlib.import_module('mmvision_mamba._C')
    except ImportError as err:  # not built, or built against another torch
        return 'missing', str(err)
    return ('installed' if _usable(module) else 'stale'), getattr(module, '__file__', '?')


def _import_installed() -> Optional[ModuleType]:
    return importlib.import_module('mmvision_mamba._C') if installed_status()[0] == 'installed' else None


def _jit_build() -> ModuleType:
    from torch.utils.cpp_extension import load

    cflags, ldflags = build_flags()
    status, where = installed_status()
    state = f'{where} was built from other sources' if status == 'stale' else 'is not installed'
    warnings.warn(f'mmvision_mamba: the CPU selective-scan kernel mmvision_mamba._C {state}; loading it from '
                  "torch's extension cache or JIT-compiling it (2-3 minutes, once per source version). "
                  '`pip install --no-build-isolation -e .` builds it at install time.', RuntimeWarning, stacklevel=4)
    module = load(name='mmvision_mamba_C', sources=SOURCES, extra_cflags=cflags,
                  extra_ldflags=ldflags, extra_include_paths=[SOURCE_DIR], verbose=False)
    if not _usable(module):
        raise RuntimeError('the JIT-built kernel does not match this version of mmvision_mamba')
    return module


def load_kernel() -> Optional[ModuleType]:
    """The kernel module, or None (after one warning) when it is neither installed nor buildable."""
    with _lock:
        if not _state['tried']:
            _state['tried'] = True
            module = _import_installed()
            _state['origin'] = 'installed' if module is not None else None
            if module is None:
                try:
                    module = _jit_build()
                    _state['origin'] = 'jit'
                except Exception as err:  # noqa: BLE001 - no compiler, no ninja, ...: fall back
                    logger.debug('Building the CPU selective-scan kernel failed.', exc_info=True)
                    reason = f'{type(err).__name__}: {str(err)[:300]}'
                    warnings.warn(f'mmvision_mamba: the CPU selective-scan kernel is unavailable ({reason}); '
                                  'falling back to the slow reference scan.', RuntimeWarning, stacklevel=2)
            _state['module'] = module
        return _state['module']


def kernel_origin() -> Optional[str]:
    """Where the loaded kernel came from: 'installed' (mmvision_mamba._C), 'jit', or None (not loaded/none)."""
    return _state['origin']


@torch.compiler.assume_constant_result
def kernel_available() -> bool:
    """Whether the CPU kernel can be used (loads or builds it on the first call)."""
    return load_kernel() is not None
