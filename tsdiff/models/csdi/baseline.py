"""Cheap deterministic fills of a (features × time) grid, the baselines CSDI can diffuse the residual over.

With ``CSDIModel(baseline=...)`` the diffusion generates ``y − b`` on the imputation targets, where ``b`` is one of
these fills computed from the conditioning values only (the idea of CARD, Han et al. NeurIPS 2022, and TMDM,
ICLR 2024, applied to imputation). With x₀- or v-prediction and the zero-initialised output layer an untrained
model returns ``b`` exactly, so training starts from the baseline instead of from noise.

All functions take ``values`` and ``mask`` of shape ``(B, K, L)`` (batch × features × time; 1 = given) and return a
``(B, K, L)`` tensor equal to ``values`` where ``mask`` is 1. Entries of ``values`` where ``mask`` is 0 are ignored
(they may be anything finite).
"""
from __future__ import annotations

import torch

BASELINES = ("interpolation", "seasonal")


def _neighbours(mask: torch.Tensor):
    """Index of the nearest given step at or before / at or after each step, along the last axis.

    Returns ``(prev, next)`` long tensors shaped like ``mask``; ``prev`` is −1 where nothing is given before,
    ``next`` is L where nothing is given after.
    """
    L = mask.shape[-1]
    steps = torch.arange(L, device=mask.device).expand(mask.shape)
    given = mask > 0
    prev = torch.where(given, steps, torch.full_like(steps, -1)).cummax(dim=-1).values
    after = torch.where(given, steps, torch.full_like(steps, L)).flip(-1).cummin(dim=-1).values.flip(-1)
    return prev, after


def interpolate_time(values: torch.Tensor, mask: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """Linear interpolation over time within each (series, feature); constant beyond the first and last given step.

    The same fill as :func:`tsdiff.data.imputation.interpolate_impute` (``np.interp`` per row), vectorised in torch.
    A row with nothing given gets ``fill`` (0: the feature mean of standardised data). For forecasting (the future
    not given) this carries the last given value forward: the last-value forecast.

    Shapes: values, mask (B, K, L) → (B, K, L).
    """
    L = values.shape[-1]
    prev, after = _neighbours(mask)
    has_prev, has_next = prev >= 0, after < L
    v_prev = values.gather(-1, prev.clamp_min(0))
    v_next = values.gather(-1, after.clamp_max(L - 1))
    steps = torch.arange(L, device=values.device, dtype=values.dtype)
    span = (after - prev).clamp_min(1).to(values.dtype)
    weight = (steps - prev.to(values.dtype)) / span  # 0 on a given step (prev == next == step)
    inside = v_prev + weight * (v_next - v_prev)
    out = torch.where(has_prev & has_next, inside, torch.where(has_prev, v_prev, v_next))
    out = torch.where(has_prev | has_next, out, torch.full_like(out, fill))
    return torch.where(mask > 0, values, out)


def seasonal_fill(values: torch.Tensor, mask: torch.Tensor, season: int, fill: float = 0.0) -> torch.Tensor:
    """Seasonal naive on a grid: a step that is not given copies the step one ``season`` earlier (recursively), or,
    where the grid has nothing ``season`` steps back, falls back to :func:`interpolate_time`.

    For forecasting (the last P steps not given) this is the seasonal-naive forecast: the future repeats the last
    season of the context; with ``season`` ≥ L it is the last-value forecast. Gaps inside the context are first
    filled by interpolation, so missing context values never propagate.

    Shapes: values, mask (B, K, L) → (B, K, L).
    """
    if isinstance(season, bool) or not isinstance(season, int) or season < 1:
        raise ValueError(f"season must be a positive integer, got {season!r}")
    filled = interpolate_time(values, mask, fill)
    L = values.shape[-1]
    if season >= L:
        return filled
    _, after = _neighbours(mask)
    # steps after the last given one are the "future": they copy one season back (which may itself be future)
    future = after >= L
    out = filled.clone()
    for t in range(season, L):  # left to right, so a copy of a copy is already final
        out[..., t] = torch.where(future[..., t], out[..., t - season], out[..., t])
    return out


def baseline_fill(kind: str, values: torch.Tensor, mask: torch.Tensor, season: int | None = None) -> torch.Tensor:
    """Dispatch on ``kind`` (one of :data:`BASELINES`). Shapes: (B, K, L) → (B, K, L)."""
    if kind == "interpolation":
        return interpolate_time(values, mask)
    if kind == "seasonal":
        if season is None:
            raise ValueError("the seasonal baseline needs a season length")
        return seasonal_fill(values, mask, season)
    raise ValueError(f"unknown baseline {kind!r}; expected one of {BASELINES}")


def local_deviation(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """How far each given value lies from the line through its neighbours: ``x_t − (f_{t−1} + f_{t+1}) / 2``, where
    ``f`` is :func:`interpolate_time` of the given values (one neighbour at either end), and 0 where nothing is given.

    A denoiser input (``CSDIModel(deviation_channel=True)``): a hidden value's deviation from the interpolation
    through its gap moves with the deviations of correlated features at the same step, which this hands to the
    feature transformer directly instead of leaving the time transformer to compute differences of neighbours.

    Shapes: values, mask (B, K, L) → (B, K, L).
    """
    if values.shape[-1] < 2:
        return torch.zeros_like(values)
    fill = interpolate_time(values, mask)
    before = torch.cat([fill[..., 1:2], fill[..., :-1]], dim=-1)  # at t = 0 the only neighbour is t = 1
    after = torch.cat([fill[..., 1:], fill[..., -2:-1]], dim=-1)
    return torch.where(mask > 0, values - (before + after) / 2, torch.zeros_like(values))
