from .backbones import MambaVision

__all__ = ['MambaVision']
