"""CSDI: conditional score-based diffusion models for imputation (Tashiro et al., NeurIPS 2021).

- :class:`CSDIImputer`: tensor-level imputation on (N, L, K) grids (fit / impute / save / load).
- :class:`CSDIEstimator`: forecasting as imputation, a GluonTS ``PyTorchLightningEstimator``.
- :class:`CSDIModel`, :class:`CSDIDenoiser`, :class:`CSDIForecastModel`: the networks (module.py).
- :mod:`.masks`: training mask strategies.
"""
from .imputer import MODEL_DEFAULTS, CSDIImputer
from .masks import STRATEGIES, forecast_mask, historical_mask, make_cond_mask, mix_mask, random_mask, sample_features
from .module import CSDIDenoiser, CSDIForecastModel, CSDIModel

__all__ = [
    "CSDIImputer",
    "CSDIEstimator",
    "CSDILightningModule",
    "CSDIModel",
    "CSDIDenoiser",
    "CSDIForecastModel",
    "MODEL_DEFAULTS",
    "STRATEGIES",
    "random_mask",
    "historical_mask",
    "mix_mask",
    "forecast_mask",
    "make_cond_mask",
    "sample_features",
]


def __getattr__(name):  # the GluonTS/Lightning parts are imported lazily (they are slow to import)
    if name == "CSDIEstimator":
        from .estimator import CSDIEstimator

        return CSDIEstimator
    if name == "CSDILightningModule":
        from .lightning_module import CSDILightningModule

        return CSDILightningModule
    raise AttributeError(name)
