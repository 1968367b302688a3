"""Environment report: `python -m mmvision_mamba.info`.

Prints the versions of the stack, the scan backends and which one 'auto' picks on CPU and CUDA, whether each
kernel is built, then self-checks every backend that can run here against the reference (outputs and gradients).
Exit status 1 when a self-check fails.
"""
import argparse
import importlib
import math
import platform
import shutil
import sys
from typing import Callable, List, Optional, Tuple

import torch

PACKAGES = ('torch', 'mmengine', 'mmcv', 'mmdet', 'mmseg', 'triton', 'mamba_ssm', 'causal_conv1d')


def package_version(name: str) -> str:
    """'1.2.3', 'not installed', or 'installed, import fails: ...' (a CUDA wheel on a CPU machine)."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name == name:
            return 'not installed'
        return f'import fails: {err}'
    except Exception as err:  # noqa: BLE001 - a broken optional build must not stop the report
        return f'import fails: {type(err).__name__}: {str(err)[:120]}'
    return str(getattr(module, '__version__', '?'))


def cpu_kernel_state() -> str:
    """How the CPU kernel is (or would be) loaded, without building it."""
    from mmvision_mamba.ops.cpu_kernel import installed_status
    from torch.utils.cpp_extension import get_cxx_compiler

    status, where = installed_status()
    if status == 'installed':
        return f'built at install time ({where})'
    compiler = shutil.which(get_cxx_compiler())
    jit = (f'JIT-compiled on first use with {compiler}' if compiler
           else 'no C++ compiler found: the reference scan runs')
    if status == 'stale':
        return f'stale install-time build ({where}, other sources): {jit}'
    return f'not built at install time: {jit}'


def kernel_rows() -> List[Tuple[str, str]]:
    from mmvision_mamba.ops import depthwise_conv, selective_scan_mamba, selective_scan_triton

    def ext_state(available: bool, what: str) -> str:
        return f'importable ({what})' if available else 'not importable'

    return [
        ('cpu kernel (mmvision_mamba._C)', cpu_kernel_state()),
        ('triton scan', ext_state(selective_scan_triton.triton_available(), 'kernels compile on first use per GPU')),
        ('mamba_ssm scan', ext_state(selective_scan_mamba.mamba_available(),
                                     'raw extension' if selective_scan_mamba.raw_extension_available()
                                     else 'selective_scan_fn only')),
        ('causal_conv1d', ext_state(depthwise_conv.causal_conv1d_available(), 'fused depthwise conv + SiLU')),
    ]


def self_checks(devices: List[torch.device]) -> List[Tuple[str, str, object]]:
    """(op, device, CheckResult) for every scan backend that supports each device, and causal-conv1d on CUDA."""
    from mmvision_mamba.ops import available_backends, depthwise_conv
    from mmvision_mamba.ops.selective_scan import self_check_result
    from mmvision_mamba.ops.self_check import cached_check, check_same_conv

    rows = []
    for device in devices:
        probe = torch.zeros(1, 1, 1, device=device)
        for name in available_backends(probe):
            rows.append((f'scan {name}', str(device), self_check_result(name, device)))
        if device.type == 'cuda' and depthwise_conv.causal_conv1d_available():
            rows.append(('causal_conv1d', str(device), cached_check(
                'causal_conv1d', device, lambda d: check_same_conv(depthwise_conv.same_conv1d_silu_causal, d))))
    return rows


def auto_choice(device: Optional[torch.device]) -> str:
    from mmvision_mamba.ops.selective_scan import resolve_backend

    if device is None:
        return 'no CUDA device here'
    try:
        return resolve_backend(torch.zeros(1, 1, 1, device=device), 'auto')
    except RuntimeError as err:
        return f'none ({err})'


def report(out: Callable[[str], None] = print) -> bool:
    """Prints the report; returns whether every self-check passed."""
    import mmvision_mamba
    from mmvision_mamba.ops import available_backends
    from mmvision_mamba.ops.self_check import SCAN_SHAPE

    try:  # keep the dispatcher's INFO line about the chosen backend out of the report
        from mmengine.logging import MMLogger
        MMLogger.get_instance('mmvision_mamba.info', log_level='WARNING')
    except ImportError:
        pass

    out(f'mmvision_mamba {mmvision_mamba.__version__} ({mmvision_mamba.__file__})')
    out(f'python {platform.python_version()} ({sys.executable})')
    for name in PACKAGES:
        out(f'{name:<14} {package_version(name)}')
    cuda = torch.cuda.is_available()
    gpu = f'{torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}' if cuda else 'none'
    out(f'{"GPU":<14} {gpu}')

    out('\nkernels:')
    for name, state in kernel_rows():
        out(f'  {name:<32} {state}')

    devices = [torch.device('cpu')] + ([torch.device('cuda', torch.cuda.current_device())] if cuda else [])
    rows = self_checks(devices)  # before the 'auto' choice, which uses their results
    out(f'\nscan backends, in "auto" order: {", ".join(available_backends())}')
    out(f'  auto on CPU:  {auto_choice(devices[0])}')
    out(f'  auto on CUDA: {auto_choice(devices[1] if cuda else None)}')

    batch, dim, n_state, length = SCAN_SHAPE
    out(f'\nself-check against the reference (float32 vs float64, (batch, dim, N, L) = '
        f'({batch}, {dim}, {n_state}, {length}), outputs and gradients):')
    for op, device, result in rows:
        err = 'n/a' if math.isnan(result.max_abs_err) else f'{result.max_abs_err:.1e}'
        verdict = 'PASS' if result.passed else f'FAIL  {result.detail}'
        out(f'  {op:<16} {device:<8} max abs error {err:<8} {result.seconds * 1e3:7.1f} ms  {verdict}')
    return all(result.passed for _, _, result in rows)


def main(argv: Optional[List[str]] = None) -> int:
    argparse.ArgumentParser(prog='python -m mmvision_mamba.info', description=__doc__.splitlines()[0]).parse_args(
        argv)
    return 0 if report() else 1


if __name__ == '__main__':
    sys.exit(main())
