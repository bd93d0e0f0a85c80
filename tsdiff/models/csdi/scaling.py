"""Per-window standardisation of CSDI grids (instance normalisation, RevIN: Kim et al., ICLR 2022).

With ``CSDIModel(scaling="window")`` each window is standardised, per feature, with the mean and standard deviation
of the values it is *given* (the conditioning values: the context when forecasting), and the samples are mapped
back with the same numbers. Series whose scales differ by orders of magnitude (m4_hourly) or drift over time then
all look alike to the network, and no statistic of a hidden value leaks into the input.
"""
from __future__ import annotations

import torch


def window_loc_scale(grid: torch.Tensor, given: torch.Tensor, min_scale: float = 1e-5
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Location and scale of each window and feature from its given values, along time.

    Args:
        grid: (B, K, L) values (entries that are not given may hold anything finite).
        given: (B, K, L), 1 where the value is given.
        min_scale: a scale below ``min_scale · (1 + |loc|)`` (a constant row) is replaced by that floor, so a flat
            context neither divides by zero nor blows small later changes up without limit.
    Returns:
        loc, scale: each (B, K, 1) (mean and population standard deviation); scale > 0. A row with nothing given
        gets loc 0 and scale 1.
    """
    given = given.to(grid.dtype)
    grid = torch.where(given > 0, grid, torch.zeros_like(grid))
    count = given.sum(-1, keepdim=True)
    loc = grid.sum(-1, keepdim=True) / count.clamp_min(1.0)
    var = (((grid - loc) * given) ** 2).sum(-1, keepdim=True) / count.clamp_min(1.0)
    scale = torch.maximum(var.sqrt(), min_scale * (1.0 + loc.abs()))
    has_any = count > 0
    return torch.where(has_any, loc, torch.zeros_like(loc)), torch.where(has_any, scale, torch.ones_like(scale))
