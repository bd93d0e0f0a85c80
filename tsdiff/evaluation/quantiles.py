"""Quantile levels, sample quantiles (GluonTS convention) and input handling.

Array convention used throughout :mod:`tsdiff.evaluation`:

* ``samples``: shape ``(S, *B)`` -- the sample axis first;
* ``target``:  shape ``B`` -- e.g. ``(T,)``, ``(N, T)`` or, for multivariate
  data, ``(..., T, D)`` with the series axis last;
* ``mask``:    shape ``B`` (optional) -- truthy = the point is scored.

Non-finite target values (NaN/inf) are never scored, like GluonTS's
``Evaluator`` which applies ``np.ma.masked_invalid`` to the target.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    "DEFAULT_QUANTILES",
    "as_numpy",
    "check_levels",
    "quantile_indices",
    "sample_quantiles",
]

#: The 19 levels 0.05, 0.10, ..., 0.95 (``k / 20`` is the correctly rounded
#: double, i.e. identical to the literals ``0.05``, ``0.15``, ...).
DEFAULT_QUANTILES: Tuple[float, ...] = tuple(float(k) / 20 for k in range(1, 20))


def as_numpy(x: Any, dtype: Optional[np.dtype] = None) -> np.ndarray:
    """Convert a numpy array, torch tensor, pandas object or sequence to numpy.

    Torch tensors are detached and moved to CPU (torch is not imported here).
    Floating arrays keep their dtype unless ``dtype`` is given.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        x = x.numpy()
    elif hasattr(x, "to_numpy"):  # pandas Series / DataFrame
        x = x.to_numpy()
    x = np.asarray(x)
    if dtype is not None:
        x = x.astype(dtype, copy=False)
    elif not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


def check_levels(levels: Iterable[float], name: str = "quantile levels") -> np.ndarray:
    """Validate levels (1-D, non-empty, every level strictly inside (0, 1)).

    Returns a float64 array of shape ``(Q,)``; raises ``ValueError`` otherwise.
    """
    arr = np.atleast_1d(as_numpy(list(levels) if not hasattr(levels, "shape") else levels,
                                 dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    bad = ~((arr > 0.0) & (arr < 1.0))  # also catches NaN
    if bad.any():
        raise ValueError(f"{name} must lie strictly inside (0, 1), got {arr[bad].tolist()}")
    return arr


def quantile_indices(num_samples: int, levels: Sequence[float]) -> np.ndarray:
    """Order-statistic index used by GluonTS's ``SampleForecast.quantile``.

    GluonTS returns ``sorted_samples[int(np.round((S - 1) * q))]``: the
    nearest order statistic with round-half-to-even and no interpolation.
    Returns an int array of shape ``(Q,)`` (levels are not re-validated).
    """
    if num_samples < 1:
        raise ValueError(f"need at least one sample, got {num_samples}")
    q = np.asarray(levels, dtype=np.float64)
    return np.round((num_samples - 1) * q).astype(np.intp)


def sample_quantiles(
    samples: Any,
    levels: Sequence[float],
    *,
    is_sorted: bool = False,
) -> np.ndarray:
    """Quantiles of ``samples`` along the first (sample) axis, GluonTS style.

    Parameters
    ----------
    samples
        Shape ``(S, *B)``; numpy array or torch tensor.
    levels
        ``Q`` levels in (0, 1).
    is_sorted
        Set when ``samples`` is already sorted along axis 0 (skips the sort).

    Returns
    -------
    np.ndarray
        Shape ``(Q, *B)``, same dtype as ``samples``; entry ``k`` equals
        ``SampleForecast(samples).quantile(levels[k])``.
    """
    x = as_numpy(samples)
    if x.ndim < 1:
        raise ValueError(f"samples must have a leading sample axis, got shape {x.shape}")
    lv = check_levels(levels)
    idx = quantile_indices(x.shape[0], lv)
    if not is_sorted:
        uniq = np.unique(idx)
        if uniq.size <= 2 and x.shape[0] > 16:
            # one or two order statistics (e.g. the median): partial sort
            x = np.partition(x, uniq, axis=0)
        else:
            x = np.sort(x, axis=0)
    return x[idx]
