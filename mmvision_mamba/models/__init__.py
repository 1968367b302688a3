from .backbones import MambaVision
from .classifiers import MambaVisionClassifier

__all__ = ['MambaVision', 'MambaVisionClassifier']
