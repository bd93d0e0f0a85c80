"""Covariates of the TimeGrad RNN beyond the time features: past-only dynamic reals and static features.

Past-only covariates (GluonTS's ``past_feat_dynamic_real``, Nixtla's ``hist_exog``, AutoGluon's
``past_covariates``) are known up to the forecast start and unknown after it. TimeGrad reads its features at every
step it unrolls, the horizon included, so the horizon needs *some* value: the last known one is carried forward and
one indicator column says which steps hold a real value (1 on the context, 0 on the horizon). Training windows get
the same treatment for their horizon (teacher forcing), so the network learns from exactly what it will see when
forecasting: the covariates act through the context encoding and through the carried-forward last value.

Static features (per series): reals, fed as they are, and categories, each through a learned embedding; both are
read by the RNN at every step beside the per-series embedding.
"""

from typing import List, Optional

import torch
from torch import nn


def default_category_embedding_dim(cardinality: int) -> int:
    """Embedding width of a category with ``cardinality`` levels when none is given (GluonTS's DeepAR rule)."""
    return min(50, (cardinality + 1) // 2)


def hide_past_only_covariates(time_feat: torch.Tensor, known_steps: int, num_past_only: int) -> torch.Tensor:
    """Replace the past-only covariates after the first ``known_steps`` by their last known value and add an
    indicator column (1 where the value is known).

    Args:
        time_feat: (B, T, F) features per step, the past-only covariates in the last ``num_past_only`` columns
            (anything, even NaN, after ``known_steps``: those entries are not read).
        known_steps: steps whose covariates are known (the window's past), 0 < known_steps ≤ T.
        num_past_only: K_p ≥ 0; with 0, ``time_feat`` is returned as it is (no indicator column).
    Returns:
        (B, T, F + 1) when K_p > 0.
    """
    if num_past_only == 0:
        return time_feat
    batch, steps, _ = time_feat.shape
    known = time_feat[:, :known_steps]
    unknown = time_feat[:, known_steps:, :-num_past_only]
    carried = known[:, -1:, -num_past_only:].expand(-1, steps - known_steps, -1)
    feat = torch.cat([known, torch.cat([unknown, carried], dim=-1)], dim=1)
    indicator = torch.zeros(batch, steps, 1, dtype=feat.dtype, device=feat.device)
    indicator[:, :known_steps] = 1.0
    return torch.cat([feat, indicator], dim=-1)


class StaticFeatures(nn.Module):
    """Per-series static features as one vector per window, for the RNN input.

    Args:
        target_dim: D, series per window.
        num_feat_static_real: R, real features per series.
        cardinality: levels of each of the C categorical features per series (codes in [0, cardinality[c])).
        category_embedding_dim: width of every category's embedding (default per category:
            :func:`default_category_embedding_dim`).

    Shapes: ``forward(feat_static_real (B, D·R), feat_static_cat (B, D·C))`` → (B, D·(R + Σ E_c)), series-major
    (the R reals and C codes of series 0 first).
    """

    def __init__(self, target_dim: int, num_feat_static_real: int = 0, cardinality: Optional[List[int]] = None,
                 category_embedding_dim: Optional[int] = None) -> None:
        super().__init__()
        self.target_dim = target_dim
        self.num_feat_static_real = num_feat_static_real
        self.cardinality = list(cardinality or [])
        dims = [category_embedding_dim or default_category_embedding_dim(c) for c in self.cardinality]
        self.embeddings = nn.ModuleList(nn.Embedding(c, e) for c, e in zip(self.cardinality, dims))
        self.output_size = target_dim * (num_feat_static_real + sum(dims))

    @staticmethod
    def check_arguments(num_feat_static_real: int = 0, cardinality: Optional[List[int]] = None,
                        category_embedding_dim: Optional[int] = None) -> None:
        if isinstance(num_feat_static_real, bool) or not isinstance(num_feat_static_real, int) \
                or num_feat_static_real < 0:
            raise ValueError(f"num_feat_static_real must be an integer >= 0, got {num_feat_static_real!r}")
        for c in cardinality or []:
            if isinstance(c, bool) or not isinstance(c, int) or c < 1:
                raise ValueError(f"cardinality must list integers >= 1 (levels per category), got {cardinality!r}")
        if category_embedding_dim is not None and (isinstance(category_embedding_dim, bool) or not isinstance(
                category_embedding_dim, int) or category_embedding_dim < 1):
            raise ValueError(f"category_embedding_dim must be a positive integer or None, got "
                             f"{category_embedding_dim!r}")

    def forward(self, feat_static_real: Optional[torch.Tensor], feat_static_cat: Optional[torch.Tensor],
                batch: int) -> Optional[torch.Tensor]:
        """The static vector (B, D·(R + Σ E_c)), or None when the model has no static features."""
        if self.output_size == 0:
            return None
        D, parts = self.target_dim, []
        if self.num_feat_static_real:
            parts.append(feat_static_real.reshape(batch, D, self.num_feat_static_real).float())
        if self.cardinality:
            codes = feat_static_cat.reshape(batch, D, len(self.cardinality)).long()
            parts += [emb(codes[:, :, c]) for c, emb in enumerate(self.embeddings)]
        return torch.cat(parts, dim=-1).reshape(batch, -1)
