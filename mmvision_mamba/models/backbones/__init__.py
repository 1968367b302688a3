from .mambavision import MambaVision
from .mambavision_official import MambaVisionOfficial

__all__ = ['MambaVision', 'MambaVisionOfficial']
