"""Neural-network blocks shared by the tsdiff denoisers, and the argument checks of their constructors."""
from . import checks
from .embedding import DiffusionStepEmbedding, sinusoidal_embedding

__all__ = ["DiffusionStepEmbedding", "checks", "sinusoidal_embedding"]
