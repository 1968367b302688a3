from .mambavision_classifier import MambaVisionClassifier

__all__ = ['MambaVisionClassifier']
