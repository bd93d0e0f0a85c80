"""CSDI: conditional score-based diffusion models for imputation (Tashiro et al., NeurIPS 2021).

- :class:`CSDIModel`: the pure module (imputation and forecasting-as-imputation on (time × feature) windows).
- :class:`CSDIDenoiser`: its transformer denoiser (denoiser.py).
- :class:`CSDIImputer`: tensor-level imputation on (N, L, K) windows (fit / impute / save / load).
- :class:`CSDIEstimator`: forecasting as imputation, a GluonTS ``PyTorchLightningEstimator``.
- :mod:`.masks`: training mask strategies.
- :mod:`.baseline`: deterministic fills (interpolation, seasonal naive) that ``CSDIModel(baseline=...)`` diffuses
  the residual over; :mod:`.scaling`: per-window standardisation (``scaling="window"``).
"""
from .denoiser import CSDIDenoiser
from .imputer import MODEL_DEFAULTS, CSDIImputer
from . import memory  # noqa: F401  (registers the sampling-memory estimate)
from .masks import STRATEGIES, forecast_mask, historical_mask, make_cond_mask, mix_mask, random_mask, sample_features
from .module import LOSS_WEIGHTINGS, SCALINGS, CSDIModel

__all__ = [
    "CSDIImputer",
    "CSDIEstimator",
    "CSDILightningModule",
    "CSDIModel",
    "CSDIDenoiser",
    "MODEL_DEFAULTS",
    "LOSS_WEIGHTINGS",
    "SCALINGS",
    "STRATEGIES",
    "random_mask",
    "historical_mask",
    "mix_mask",
    "forecast_mask",
    "make_cond_mask",
    "sample_features",
]


def __getattr__(name):  # the GluonTS estimator is imported on first use
    if name == "CSDIEstimator":
        from .estimator import CSDIEstimator

        return CSDIEstimator
    if name == "CSDILightningModule":
        from .lightning_module import CSDILightningModule

        return CSDILightningModule
    raise AttributeError(name)
