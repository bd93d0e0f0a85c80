"""The container every imputation benchmark returns, and the checks that keep its masks consistent."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ImputationData:
    """One split of an imputation benchmark, laid out ``(N, L, K)`` = (samples, time steps, features).

    CSDI stores its arrays the same way and transposes to ``(N, K, L)`` only inside the model.

    Attributes:
        values: ``(N, L, K)`` float32, normalised with ``mean``/``std``; 0 wherever ``observed_mask`` is False
            (also at evaluation targets: the true value there is ``values`` where ``eval_mask``).
        observed_mask: ``(N, L, K)`` bool, a ground-truth value exists.
        eval_mask: ``(N, L, K)`` bool, the values hidden from the model and scored (subset of ``observed_mask``).
        given_mask: ``(N, L, K)`` bool, the values the model may condition on (CSDI's ``gt_mask``); disjoint from
            ``eval_mask``. Usually ``observed & ~eval``; see the loader for exceptions.
        split: ``"train"``, ``"valid"`` or ``"test"``.
        mean, std: ``(K,)`` float64, the normalisation; original units are ``values * std + mean``.
        feature_names: ``K`` names.
        starts: ``(N,)`` start of each window (``datetime64``) where the data has a calendar, else ``None``.
        ids: ``(N,)`` identifiers of the samples (e.g. PhysioNet RecordIDs), else ``None``.
    """

    values: np.ndarray
    observed_mask: np.ndarray
    eval_mask: np.ndarray
    given_mask: np.ndarray
    split: str
    mean: np.ndarray
    std: np.ndarray
    feature_names: tuple[str, ...]
    starts: np.ndarray | None = None
    ids: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = self.values.shape
        if self.values.ndim != 3:
            raise ValueError(f"values must be (N, L, K), got shape {shape}")
        for name in ("observed_mask", "eval_mask", "given_mask"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, values has {shape}")
        if len(self.feature_names) != shape[2] or self.mean.shape != (shape[2],) or self.std.shape != (shape[2],):
            raise ValueError("feature_names, mean and std must have one entry per feature (last axis)")
        if np.any(self.eval_mask & ~self.observed_mask):
            raise ValueError("eval_mask must be a subset of observed_mask")
        if np.any(self.eval_mask & self.given_mask):
            raise ValueError("eval_mask and given_mask must be disjoint")

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.values.shape

    @property
    def eval_ratio(self) -> float:
        """Fraction of observed values that are evaluation targets."""
        return float(self.eval_mask.sum() / max(self.observed_mask.sum(), 1))

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        """Map normalised values ``(..., K)`` back to original units."""
        return np.asarray(x) * self.std + self.mean
