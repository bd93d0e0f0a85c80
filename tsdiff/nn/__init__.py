"""Neural-network blocks shared by the tsdiff denoisers."""
from .ema import ema_decay_at, ema_update
from .embedding import DiffusionStepEmbedding, sinusoidal_embedding

__all__ = ["DiffusionStepEmbedding", "ema_decay_at", "ema_update", "sinusoidal_embedding"]
