"""Neural-network blocks shared by the tsdiff denoisers."""
from .embedding import DiffusionStepEmbedding, sinusoidal_embedding

__all__ = ["DiffusionStepEmbedding", "sinusoidal_embedding"]
