"""Training utilities; importing this registers them in mmengine's root registries."""
from .optimizers import MambaVisionLayerDecayOptimizerConstructor

__all__ = ['MambaVisionLayerDecayOptimizerConstructor']
