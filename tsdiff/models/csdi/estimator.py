"""GluonTS estimator for CSDI used as a forecaster (the future part of a window is imputed).

Input data is GluonTS multivariate: each entry's ``target`` has shape (D, T) (group univariate series with
``gluonts.dataset.multivariate_grouper.MultivariateGrouper``). The predictor, a
:class:`~tsdiff.models.base.DiffusionPredictor`, yields ``SampleForecast``s whose samples have shape
(num_samples, prediction_length, D); ``predict`` takes ``seed``, ``sampler``, ``sampling_steps`` and ``eta`` per call.
"""

from typing import Any, Dict, Iterable, List, Optional

import numpy as np
import torch
from gluonts.core.component import validated
from gluonts.dataset.common import Dataset
from gluonts.dataset.field_names import FieldName
from gluonts.transform import AddObservedValuesIndicator, AsNumpyArray, Chain, SelectFields, Transformation
from gluonts.transform.sampler import InstanceSampler

from ..base import DiffusionEstimator, Standardiser
from ..base.estimator import MappedBatches, model_arguments
from .lightning_module import CSDILightningModule
from .module import CSDIModel

PREDICTION_INPUT_NAMES = ["past_target", "past_observed_values"]
SPLIT_FIELDS = PREDICTION_INPUT_NAMES + ["future_target", "future_observed_values"]


def join_window(batch: dict) -> dict:
    """A split batch (past (B, C, D) and future (B, P, D) fields) as CSDI's training window (B, C + P, D)."""
    return {
        "window_target": torch.cat([batch["past_target"], batch["future_target"]], dim=1),
        "window_observed": torch.cat([batch["past_observed_values"], batch["future_observed_values"]], dim=1),
    }


def default_context_length(prediction_length: int) -> int:
    """CSDI's history when none is given: twice the horizon, at least 8 steps."""
    return max(8, 2 * prediction_length)


class CSDIEstimator(DiffusionEstimator):
    """CSDI (Tashiro et al., 2021) forecaster: a (D × (context + prediction)) window whose future is imputed.

    Args:
        freq: frequency string of the data.
        prediction_length: P.
        target_dim: D, dimension of the multivariate target.
        context_length: C, observed history given to the model (default: :func:`default_context_length`).
        residual_channels, residual_layers, heads, step_embedding_dim, time_embedding_dim, feature_embedding_dim,
            dim_feedforward, dropout: network (CSDI: 64, 4, 8, 128, 128, 16, 64, 0.1).
        num_diffusion_steps, beta_schedule, beta_start, beta_end: noise schedule (CSDI: 50, quad, 1e-4, 0.5).
        prediction, baseline, season, baseline_channel: denoiser output (``"epsilon"``, ``"x0"``, ``"v"``) and the
            residual over a naive forecast (``"interpolation"``: the last value; ``"seasonal"``: the seasonal naive
            with ``season``), see :class:`~tsdiff.models.csdi.CSDIModel`.
        deviation_channel: each given value's deviation from its neighbours as one more input channel
            (:class:`~tsdiff.models.csdi.CSDIModel`).
        num_sample_features: train on a random subset of this many dimensions per window when D is larger (CSDI: 64).
        scaling: ``"global"`` (standardise each dimension with the training set's mean/std, computed in ``train``
            unless ``scaler_mean``/``scaler_std`` are given), ``"window"`` (each window by its own context's
            mean/std: series of very different scales) or ``"none"``.
        lr, weight_decay, lr_schedule: Adam (CSDI: 1e-3, 1e-6; ``"multistep"``: lr × 0.1 at 75 %/90 % of
            ``max_epochs``).
        ema_decay: sample with a moving average of the weights (e.g. 0.999); ``None``: the trained weights.
        batch_size, num_batches_per_epoch: training batches.
        prediction_batch_size: series per prediction batch (all their samples are drawn in one batch).
        num_parallel_samples: default samples per series at prediction.
        sampler, sampling_steps, eta: default reverse process (see :class:`~tsdiff.diffusion.SamplingOptions`).
        seed: seeds training (Python, numpy, torch) and is the predictor's default sampling seed.
        trainer_kwargs: ``lightning.pytorch.Trainer`` arguments (default ``max_epochs=200``).
        train_sampler, validation_sampler: window samplers.
        weights: the weights the trained model keeps: ``"last"`` (the end of training), ``"best"`` (the epoch of
            the lowest mean loss: validation loss with validation data, else training loss; GluonTS's rule) or
            ``None``: best with validation data, last without (:data:`tsdiff.models.base.estimator.WEIGHTS`).
    """

    prediction_input_names = PREDICTION_INPUT_NAMES
    training_input_names = CSDILightningModule.training_input_names

    @validated()
    def __init__(
        self,
        freq: str,
        prediction_length: int,
        target_dim: int,
        context_length: Optional[int] = None,
        residual_channels: int = 64,
        residual_layers: int = 4,
        heads: int = 8,
        step_embedding_dim: int = 128,
        time_embedding_dim: int = 128,
        feature_embedding_dim: int = 16,
        dim_feedforward: int = 64,
        dropout: float = 0.1,
        num_diffusion_steps: int = 50,
        beta_schedule: str = "quad",
        beta_start: float = 1e-4,
        beta_end: float = 0.5,
        prediction: str = "epsilon",
        baseline: Optional[str] = None,
        season: Optional[int] = None,
        baseline_channel: bool = False,
        deviation_channel: bool = False,
        num_sample_features: int = 64,
        scaling: str = "global",
        scaler_mean: Optional[List[float]] = None,
        scaler_std: Optional[List[float]] = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        lr_schedule: str = "multistep",
        ema_decay: Optional[float] = None,
        batch_size: int = 16,
        num_batches_per_epoch: int = 50,
        prediction_batch_size: int = 64,
        num_parallel_samples: int = 100,
        sampler: str = "ddpm",
        sampling_steps: Optional[int] = None,
        eta: float = 0.0,
        seed: Optional[int] = None,
        trainer_kwargs: Optional[Dict[str, Any]] = None,
        train_sampler: Optional[InstanceSampler] = None,
        validation_sampler: Optional[InstanceSampler] = None,
        weights: Optional[str] = None,
    ) -> None:
        super().__init__(
            freq=freq, prediction_length=prediction_length,
            context_length=default_context_length(prediction_length) if context_length is None else context_length,
            batch_size=batch_size, num_batches_per_epoch=num_batches_per_epoch,
            prediction_batch_size=prediction_batch_size, seed=seed, trainer_kwargs=trainer_kwargs,
            default_trainer_kwargs={"max_epochs": 200},
            train_sampler=train_sampler, validation_sampler=validation_sampler, weights=weights,
        )
        self.target_dim = target_dim
        self.scaling = scaling
        self.scaler_mean = scaler_mean
        self.scaler_std = scaler_std
        self.model_kwargs = model_arguments(CSDIModel, locals(), context_length=self.context_length,
                                            mask_strategy="forecast")
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.ema_decay = ema_decay
        # every hyperparameter is checked now, without building the network, so a bad one fails here
        CSDIModel.check_arguments(**self.model_kwargs)
        CSDILightningModule.check_arguments(lr=lr, weight_decay=weight_decay, lr_schedule=lr_schedule,
                                            ema_decay=ema_decay)

    # -- data -------------------------------------------------------------------------------------------------------
    def create_transformation(self) -> Transformation:
        return Chain([
            SelectFields([FieldName.START, FieldName.TARGET, FieldName.ITEM_ID, "info"], allow_missing=True),
            AsNumpyArray(field=FieldName.TARGET, expected_ndim=2),
            AddObservedValuesIndicator(target_field=FieldName.TARGET, output_field=FieldName.OBSERVED_VALUES),
        ])

    def min_past(self) -> int:
        return self.context_length

    def gluonts_fields(self) -> list:
        return SPLIT_FIELDS

    def prepare_batches(self, batches: Iterable) -> Iterable:
        """Past and future of each split window joined into one window, (B, C + P, D)."""
        return MappedBatches(batches, join_window)

    # -- model ------------------------------------------------------------------------------------------------------
    def _fit_scaler(self, training_data: Dataset) -> None:
        """Per-dimension mean/std of all (finite) training target values, as CSDI standardises."""
        targets = [np.asarray(entry[FieldName.TARGET], dtype=np.float64) for entry in training_data]
        if not targets or targets[0].ndim != 2 or any(t.shape[0] != self.target_dim for t in targets):
            raise ValueError(f"expected multivariate targets of shape ({self.target_dim}, T)")
        stats = Standardiser.fit(np.concatenate(targets, axis=1).T)
        self.scaler_mean, self.scaler_std = list(stats.mean), list(stats.std)

    def train_model(self, training_data: Dataset, validation_data: Optional[Dataset] = None, **kwargs):
        if self.scaling == "global" and (self.scaler_mean is None or self.scaler_std is None):
            self._fit_scaler(training_data)
        return super().train_model(training_data, validation_data, **kwargs)

    def create_lightning_module(self) -> CSDILightningModule:
        return CSDILightningModule(
            model_kwargs={**self.model_kwargs, "scaler_mean": self.scaler_mean, "scaler_std": self.scaler_std},
            lr=self.lr, weight_decay=self.weight_decay, lr_schedule=self.lr_schedule,
            total_steps=self.total_training_steps(), ema_decay=self.ema_decay,
        )
