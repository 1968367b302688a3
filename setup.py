"""Installs the mmvision_mamba OpenMMLab plugin."""
from setuptools import find_packages, setup


def read_version() -> str:
    scope: dict = {}
    with open('mmvision_mamba/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmvision_mamba',
    version=read_version(),
    description='MambaVision backbone for mmdetection and mmsegmentation',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=['mmvision_mamba', 'mmvision_mamba.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.1',
        'mmengine>=0.10.0,<1.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmdet>=3.0.0,<3.4',
        'mmsegmentation>=1.0.0,<1.3',
    ],
    extras_require={
        'cuda': ['mamba-ssm>=2.2', 'causal-conv1d>=1.4'],
        'dev': ['pytest>=7', 'safetensors>=0.4', 'ftfy', 'regex'],
    },
)
