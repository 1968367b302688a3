from .backbones import MambaVision, MambaVisionOfficial
from .classifiers import MambaVisionClassifier

__all__ = ['MambaVision', 'MambaVisionOfficial', 'MambaVisionClassifier']
