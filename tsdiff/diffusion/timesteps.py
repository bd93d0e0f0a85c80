"""Which of the T diffusion steps a few-step sampler visits.

A few-step sampler (DDIM, DPM-Solver++) evaluates the network at ``n`` of the T step indices, noisiest first, and
takes its last step from the final index straight to the data. Every spacing returns ``n`` distinct indices in
``[0, T)``, strictly decreasing:

* ``"linspace"`` — round(linspace(T−1, 0, n)): both ends included (tsdiff's DDIM spacing since the start; default).
* ``"leading"`` — i · ⌊T/n⌋ for i = n−1, …, 0: starts below the noisiest step (Lin et al. 2024, Table 2).
* ``"trailing"`` — round(T − i · T/n) − 1 for i = 0, …, n−1: starts at T−1, ends at T/n − 1 (Lin et al. 2024).
* ``"quadratic"`` — round((T−1) · (i/(n−1))²): dense near the data (DDIM's "quadratic" spacing, Song et al. 2021,
  Appendix D.2).
* ``"logsnr"`` — uniform in the log signal-to-noise ratio λ_t = log(ᾱ_t/(1 − ᾱ_t)) between λ_{T−1} and λ_0, each
  point mapped to the nearest step (the "logSNR" time steps of DPM-Solver, Lu et al. 2022).

Rounding can merge neighbours when n is close to T (quadratic, logsnr); merged indices are pushed apart by one step
at a time, which keeps the ends and the order.
"""
from __future__ import annotations

import numpy as np

from .options import SPACINGS


def log_snr(alpha_bars: np.ndarray) -> np.ndarray:
    """λ_t = log(ᾱ_t / (1 − ᾱ_t)) per step, shape (T,), strictly decreasing in t."""
    alpha_bars = np.asarray(alpha_bars, dtype=np.float64)
    return np.log(alpha_bars) - np.log1p(-alpha_bars)


def _strictly_decreasing(steps: np.ndarray, num_diffusion_steps: int) -> list[int]:
    """``steps`` (non-increasing, in [0, T)) with ties pushed apart, keeping the first and last values if possible.

    Works on the ascending sequence a: a forward pass lifts each a_k to at least a_{k−1} + 1, a backward pass caps
    each a_k at a_{k+1} − 1 below T; with n ≤ T the result is strictly increasing within [0, T).
    """
    ascending = np.asarray(steps, dtype=np.int64)[::-1].copy()
    for k in range(1, len(ascending)):
        ascending[k] = max(ascending[k], ascending[k - 1] + 1)
    ascending[-1] = min(ascending[-1], num_diffusion_steps - 1)
    for k in range(len(ascending) - 2, -1, -1):
        ascending[k] = min(ascending[k], ascending[k + 1] - 1)
    return [int(t) for t in ascending[::-1]]


def spaced_timesteps(alpha_bars, num_steps: int, spacing: str = "linspace") -> list[int]:
    """The ``num_steps`` step indices a few-step sampler visits, noisiest first.

    Args:
        alpha_bars: ᾱ_t of the schedule, shape (T,) (array or float64 tensor).
        num_steps: n, the number of network calls, 1 ≤ n ≤ T.
        spacing: one of :data:`~tsdiff.diffusion.options.SPACINGS` (see the module docstring).
    Returns:
        A list of n distinct ints in [0, T), strictly decreasing.
    """
    alpha_bars = np.asarray(alpha_bars, dtype=np.float64)
    T, n = len(alpha_bars), int(num_steps)
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    if not 1 <= n <= T:
        raise ValueError(f"the number of sampling steps must lie in [1, {T}], got {n}")
    if spacing == "linspace":
        steps = np.round(np.linspace(T - 1, 0, n))
    elif spacing == "leading":
        steps = np.arange(n - 1, -1, -1) * (T // n)
    elif spacing == "trailing":
        steps = np.round(T - np.arange(n) * (T / n)) - 1
    elif spacing == "quadratic":
        steps = np.round((T - 1) * np.linspace(1.0, 0.0, n) ** 2)
    else:  # logsnr: λ is decreasing in t, so interpolate t over the reversed (increasing) table
        lam = log_snr(alpha_bars)
        grid = np.linspace(lam[-1], lam[0], n)
        steps = np.round(np.interp(grid, lam[::-1], np.arange(T - 1, -1, -1, dtype=np.float64)))
    return _strictly_decreasing(steps, T)


def checked_timesteps(steps, num_diffusion_steps: int) -> list[int]:
    """``steps`` as a list of ints after checking that they are strictly decreasing indices in [0, T)."""
    out = [int(t) for t in steps]
    if not out or any(int(t) != t for t in steps):
        raise ValueError(f"timesteps must be a non-empty sequence of integers, got {list(steps)!r}")
    if not all(a > b for a, b in zip(out, out[1:])) or out[-1] < 0 or out[0] >= num_diffusion_steps:
        raise ValueError(f"timesteps must be strictly decreasing step indices in [0, {num_diffusion_steps}), "
                         f"got {out}")
    return out
