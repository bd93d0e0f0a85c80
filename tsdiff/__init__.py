"""tsdiff: probabilistic time-series forecasting and imputation with denoising diffusion models.

pandas API: :class:`TimeGrad`, :class:`CSDI` (scikit-learn estimators), :class:`Forecast`, :class:`PanelForecast`,
:class:`Imputation`, :func:`load`, :class:`ConvergenceWarning`, :class:`NotFittedError`.
GluonTS API: :class:`TimeGradEstimator`, :class:`CSDIEstimator`. The diffusion core: :mod:`tsdiff.diffusion`.
Heavy dependencies (GluonTS, Lightning) load on first use of these names.
"""
from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "TimeGrad": "tsdiff.api.timegrad",
    "CSDI": "tsdiff.api.csdi",
    "Forecast": "tsdiff.api.forecast",
    "PanelForecast": "tsdiff.api.panel_forecast",
    "Imputation": "tsdiff.api.imputation",
    "load": "tsdiff.api.model",
    "NotFittedError": "tsdiff.api.model",
    "ConvergenceWarning": "tsdiff.api.training",
    "NonFiniteLossError": "tsdiff.models.base.guards",
    "SamplingMemoryError": "tsdiff.models.base.memory",
    "TimeGradEstimator": "tsdiff.models.timegrad",
    "CSDIEstimator": "tsdiff.models.csdi",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tsdiff' has no attribute {name!r}")


def __dir__():
    return __all__
