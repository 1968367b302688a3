"""Installs the mmvision_mamba OpenMMLab plugin."""
import importlib.util
import os
import shutil
import sys

from setuptools import find_packages, setup


def read_version() -> str:
    scope: dict = {}
    with open('mmvision_mamba/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


def cpu_extension() -> dict:
    """setup() arguments for the CPU selective-scan kernel `mmvision_mamba._C`.

    $MMVM_BUILD_KERNEL: '1' builds it (an error if it cannot be built), '0' installs without it (it is then
    JIT-compiled on first use, or the reference scan runs), unset: built wherever a C++ compiler is found. A build
    that is attempted is not optional: a compile error fails the install instead of leaving a silently slow package.
    """
    choice = os.environ.get('MMVM_BUILD_KERNEL', '').strip()
    if choice == '0':
        return {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension, get_cxx_compiler
    except ImportError:
        if choice == '1' or shutil.which(os.environ.get('CXX') or 'c++'):
            sys.exit('mmvision_mamba: building the CPU selective-scan kernel needs torch in the build environment, '
                     'and pip builds in an isolated one without it. Install torch first, then run\n'
                     '    pip install --no-build-isolation -e .\n'
                     '(as the Makefile does), or set MMVM_BUILD_KERNEL=0 to install without the kernel '
                     '(JIT-compiled on first use).')
        return {}
    compiler = get_cxx_compiler()
    if choice != '1' and not shutil.which(compiler):
        print(f'mmvision_mamba: no C++ compiler ({compiler!r}) found: installing without the CPU selective-scan '
              'kernel (the slow reference scan runs; set CXX or install a compiler and reinstall).', file=sys.stderr)
        return {}
    # the flags of the runtime JIT fallback (they carry the source hash that tells a stale build)
    spec = importlib.util.spec_from_file_location('cpu_kernel', 'mmvision_mamba/ops/cpu_kernel.py')
    cpu_kernel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cpu_kernel)
    cflags, ldflags = cpu_kernel.build_flags()
    csrc = 'mmvision_mamba/ops/csrc'
    # editable installs (PEP 660) build it in place, next to the sources, like `setup.py build_ext --inplace`
    ext = CppExtension('mmvision_mamba._C', [f'{csrc}/selective_scan_cpu.cpp'],
                       depends=[f'{csrc}/selective_scan_cpu_kernel.h'], extra_compile_args=cflags + ['-g0'],
                       extra_link_args=ldflags, optional=False)
    return dict(ext_modules=[ext], cmdclass={'build_ext': BuildExtension.with_options(use_ninja=False)})


#: ONNX export (mmvision_mamba.deployment, tools/deployment/pytorch2onnx.py)
EXPORT_REQUIRES = ['onnx>=1.18', 'onnxscript>=0.5', 'onnxruntime>=1.20']

setup(
    name='mmvision_mamba',
    version=read_version(),
    description='MambaVision backbone for mmdetection and mmsegmentation',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=['mmvision_mamba', 'mmvision_mamba.*']),
    package_data={'mmvision_mamba': ['ops/csrc/*.cpp', 'ops/csrc/*.h']},
    python_requires='>=3.9',
    # Tested: Python 3.11, torch 2.13.0, mmengine 0.10.7, mmcv 2.1.0, mmdet 3.3.0, mmsegmentation 1.2.2
    # (docs/en/get_started.md). torch 2.4 is the first with torch.library.custom_op (the scan ops).
    install_requires=[
        'torch>=2.4',
        'mmengine>=0.10.0,<1.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmdet>=3.0.0,<3.4',
        'mmsegmentation>=1.0.0,<1.3',
        'safetensors>=0.4',  # Hugging Face model.safetensors checkpoints
    ],
    extras_require={
        'cuda': ['mamba-ssm>=2.2', 'causal-conv1d>=1.4'],
        'export': EXPORT_REQUIRES,
        'dev': ['pytest>=7', 'pytest-markdown-docs>=0.9', 'import-linter>=2.1', 'ftfy', 'regex',
                'triton>=3.0; platform_system == "Linux"'] + EXPORT_REQUIRES,
        # myst-parser 5 needs markdown-it-py 4, which pytest-markdown-docs (dev) does not allow yet
        'docs': ['sphinx>=7,<9', 'myst-parser>=4,<5', 'furo'],
    },
    **cpu_extension(),
)
