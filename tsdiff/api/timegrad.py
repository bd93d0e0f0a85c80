"""``tsdiff.TimeGrad``: the pandas front end of :class:`tsdiff.models.timegrad.TimeGradEstimator`."""
from __future__ import annotations

from .model import GluonTSForecaster


class TimeGrad(GluonTSForecaster):
    """TimeGrad (Rasul et al., ICML 2021) on pandas data: an RNN over the history conditions a diffusion model of
    each next multivariate observation.

    >>> model = tsdiff.TimeGrad(prediction_length=24, epochs=10).fit(df)      # doctest: +SKIP
    >>> forecast = model.predict(num_samples=100, quantiles=(0.1, 0.5, 0.9))   # doctest: +SKIP
    >>> forecast.to_frame()                                                    # doctest: +SKIP

    Args:
        prediction_length: forecast horizon (steps).
        freq: pandas frequency (default: inferred from the index).
        context_length: steps the RNN reads before forecasting (default: ``prediction_length``).
        epochs, batch_size, num_batches_per_epoch, lr: the training budget and optimiser.
        sampler, num_steps: default reverse process (``"ddpm"``, or ``"ddim"`` with ``num_steps``).
        device: ``"auto"`` (GPU if present), ``"cpu"`` or ``"cuda"``.
        seed: seeds training and, by default, sampling.
        progress: progress bars during training and sampling.
        **model_kwargs: any other :class:`~tsdiff.models.timegrad.TimeGradEstimator` argument (``hidden_size``,
            ``num_layers``, ``cell_type``, ``residual_layers``, ``scaling``, ...).
    """

    name = "TimeGrad"
    supports_covariates = True

    def __init__(self, prediction_length: int, **kwargs):
        super().__init__(prediction_length, **kwargs)
        # Build an estimator once (it dry-runs the network) so a bad model argument fails here, not in fit().
        try:
            self._make_estimator(self.freq or "D", 2, 0, {})
        except TypeError as exc:  # an argument TimeGradEstimator does not take
            raise TypeError(f"TimeGrad: {exc}") from None

    def _make_estimator(self, freq: str, target_dim: int, num_covariates: int, trainer_kwargs: dict):
        from tsdiff.models.timegrad import TimeGradEstimator

        return TimeGradEstimator(
            freq=freq, prediction_length=self.prediction_length, target_dim=target_dim,
            context_length=self.context_length, num_feat_dynamic_real=num_covariates, lr=self.lr,
            batch_size=self.batch_size, num_batches_per_epoch=self.num_batches_per_epoch, sampler=self.sampler,
            sampling_steps=self.num_steps, seed=self.seed, trainer_kwargs=trainer_kwargs, **self.model_kwargs)
