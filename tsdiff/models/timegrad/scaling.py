"""Robust per-window location and spread for :func:`~tsdiff.models.timegrad.module.scale_context`."""
from typing import Tuple

import torch

# The interquartile range of a Gaussian is 2·Φ⁻¹(0.75)·σ = 1.3490·σ: dividing by it makes the robust spread
# equal the standard deviation on Gaussian data.
IQR_PER_STD = 1.3489795003921634


def robust_loc_spread(context: torch.Tensor, observed: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Median and IQR / 1.349 over time of the observed entries, per window and series.

    Args:
        context: (B, T, D) values.
        observed: (B, T, D), > 0 where observed.
    Returns:
        loc, spread: each (B, 1, D); 0 where a series has no observation (the caller falls back to loc 0, scale 1).
        The median of an even count is the mean of the two middle values (``torch.nanquantile``'s linear rule).
    """
    values = torch.where(observed > 0, context, torch.full_like(context, float("nan")))
    q = torch.nanquantile(values, torch.tensor([0.25, 0.5, 0.75], dtype=context.dtype, device=context.device),
                          dim=1, keepdim=True)  # (3, B, 1, D)
    loc = q[1].nan_to_num(0.0)
    spread = ((q[2] - q[0]) / IQR_PER_STD).nan_to_num(0.0)
    return loc, spread
