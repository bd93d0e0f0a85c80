"""TimeGrad (Rasul et al., ICML 2021): an RNN over lagged multivariate targets conditions a DDPM of the next step.

>>> from tsdiff.models.timegrad import TimeGradEstimator
>>> estimator = TimeGradEstimator(freq="B", prediction_length=30, target_dim=8,
...                               trainer_kwargs={"max_epochs": 10})             # doctest: +SKIP
>>> predictor = estimator.train(train_data)                                     # doctest: +SKIP
>>> forecasts = list(predictor.predict(test_data, num_samples=100, seed=0))    # doctest: +SKIP
"""
from .denoiser import EpsilonTheta
from .estimator import TimeGradEstimator
from . import memory  # noqa: F401  (registers the sampling-memory estimate)
from .lightning_module import TimeGradLightningModule
from .module import TimeGradModel, scale_context

__all__ = [
    "TimeGradEstimator",
    "TimeGradLightningModule",
    "TimeGradModel",
    "EpsilonTheta",
    "scale_context",
]
