"""Per-window standardisation of CSDI grids (instance normalisation, RevIN: Kim et al., ICLR 2022).

With ``CSDIModel(scaling="window")`` each window is standardised, per feature, with the mean and standard deviation
of the values it is *given* (the conditioning values: the context when forecasting), and the samples are mapped
back with the same numbers. Series whose scales differ by orders of magnitude (m4_hourly) or drift over time then
all look alike to the network, and no statistic of a hidden value leaks into the input.
"""
from __future__ import annotations

import torch


def window_loc_scale(grid: torch.Tensor, given: torch.Tensor, relative_floor: float = 1e-2, min_scale: float = 1e-8
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Location and scale of each window and feature from its given values, along time.

    Args:
        grid: (B, K, L) values (entries that are not given may hold anything finite).
        given: (B, K, L), 1 where the value is given.
        relative_floor: the scale is at least ``relative_floor · |loc|``. A (near-)flat context (a stuck
            sensor, a closed shop) has almost no spread; dividing by it would turn the first ordinary change after it
            into 10⁵ standard deviations and the training loss into 10¹⁰. The same floor as TimeGrad's
            ``scaling="std"``.
        min_scale: a scale at or below this (a flat context at 0) is replaced by 1: the window stays in its own units.
    Returns:
        loc, scale: each (B, K, 1) (mean and population standard deviation, floored as above); scale > 0. A row with
        nothing given gets loc 0 and scale 1.
    """
    given = given.to(grid.dtype)
    grid = torch.where(given > 0, grid, torch.zeros_like(grid))
    count = given.sum(-1, keepdim=True)
    loc = grid.sum(-1, keepdim=True) / count.clamp_min(1.0)
    var = (((grid - loc) * given) ** 2).sum(-1, keepdim=True) / count.clamp_min(1.0)
    scale = torch.maximum(var.sqrt(), relative_floor * loc.abs())
    usable = (count > 0) & (scale > min_scale)
    return torch.where(count > 0, loc, torch.zeros_like(loc)), torch.where(usable, scale, torch.ones_like(scale))
