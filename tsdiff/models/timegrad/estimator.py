"""GluonTS estimator for TimeGrad: transformations and the model's hyperparameters; the rest is the shared base."""

from typing import Any, Dict, List, Optional, Union

import numpy as np
from gluonts.core.component import validated
from gluonts.dataset.field_names import FieldName
from gluonts.time_feature import Constant, TimeFeature, get_seasonality, time_features_from_frequency_str
from gluonts.transform import (
    AddObservedValuesIndicator,
    AddTimeFeatures,
    AsNumpyArray,
    Chain,
    RemoveFields,
    MapTransformation,
    SetField,
    TargetDimIndicator,
    Transformation,
    VstackFeatures,
)
from gluonts.transform.sampler import InstanceSampler

from ..base import DiffusionEstimator
from ..base.estimator import model_arguments
from .lightning_module import PREDICTION_INPUT_NAMES, TRAINING_INPUT_NAMES, TimeGradLightningModule
from .module import TimeGradModel

TARGET_DIM_INDICATOR = "target_dimension_indicator"


class PadPastOnlyFeatures(MapTransformation):
    """Bring ``past_feat_dynamic_real`` (K_p, T) to the length of the step features (T, or T + P when forecasting)
    by repeating its last column; the model never reads those padded values as known (see
    :func:`~tsdiff.models.timegrad.covariates.hide_past_only_covariates`). Longer input is cut to that length."""

    @validated()
    def __init__(self, prediction_length: int) -> None:
        self.prediction_length = prediction_length

    def map_transform(self, data: dict, is_train: bool) -> dict:
        past = np.asarray(data[FieldName.PAST_FEAT_DYNAMIC_REAL], dtype=np.float32)
        steps = data[FieldName.TARGET].shape[-1] + (0 if is_train else self.prediction_length)
        if past.shape[1] < steps:
            past = np.concatenate([past, np.repeat(past[:, -1:], steps - past.shape[1], axis=1)], axis=1)
        data[FieldName.PAST_FEAT_DYNAMIC_REAL] = past[:, :steps]
        return data


def resolve_difference_lag(difference_lag: Union[int, str], freq: str) -> int:
    """``difference_lag`` in steps: ``"season"`` is the frequency's season (GluonTS's ``get_seasonality``: 24 for
    hourly data, 1 where the frequency has none); integers pass through (checked by the model)."""
    if isinstance(difference_lag, str):
        if difference_lag != "season":
            raise ValueError(f"difference_lag must be an integer >= 0 or 'season', got {difference_lag!r}")
        return int(get_seasonality(freq))
    return difference_lag


class TimeGradEstimator(DiffusionEstimator):
    """TimeGrad (Rasul et al., ICML 2021): autoregressive RNN + denoising diffusion for multivariate forecasting.

    Data: GluonTS entries whose ``target`` has shape (D, T) (group univariate series with
    ``gluonts.dataset.multivariate_grouper.MultivariateGrouper``); NaNs are allowed (masked out of the loss);
    optional ``feat_dynamic_real`` (K, T + prediction_length at prediction time) is fed to the RNN, and so are
    ``past_feat_dynamic_real`` (K_p, T: known up to the forecast start only), ``feat_static_real`` (D·R: R reals per
    series, series-major) and ``feat_static_cat`` (D·C integer codes).

    Args:
        freq: pandas frequency string of the data.
        prediction_length: forecast horizon P.
        target_dim: number of series D.
        context_length: RNN unroll length before the forecast (default ``prediction_length``).
        num_layers, hidden_size, dropout_rate, cell_type: the RNN (default 2 × 40 LSTM, dropout 0.1).
        embedding_dim: size of the learned per-series embedding.
        conditioning_length: width of the projected RNN state given to the denoiser.
        scaling: ``"mean"`` (TimeGrad), ``"std"``, ``"diff"`` (last value / size of one-step changes) or ``"none"``.
        increments: diffuse one-step changes instead of levels (see :class:`TimeGradModel`).
        lags_seq: target lags (default ``get_lags_for_frequency(freq)``); time_features: default
            ``time_features_from_frequency_str(freq)``.
        num_feat_dynamic_real: number of dynamic real covariates (known in the future).
        num_past_feat_dynamic_real: number of past-only dynamic real covariates (see
            :mod:`~tsdiff.models.timegrad.covariates` for how the horizon treats them).
        num_feat_static_real, cardinality: static reals per series, and the levels of each static category;
            category_embedding_dim: width of each category's embedding (default min(50, (levels + 1) // 2)).
        num_diffusion_steps, beta_schedule, beta_start, beta_end: noise schedule (linear 1e-4 → 0.1, 100 steps).
        residual_layers, residual_channels, dilation_cycle_length: the ε-network (8, 8, 2);
        cond_upsampler_dim: middle width of its conditioning upsampler (default D // 2, as the reference).
        lr, weight_decay, lr_schedule: optimiser (Adam 1e-3, 1e-6, one-cycle).
        batch_size, num_batches_per_epoch: windows per batch and batches per epoch.
        prediction_batch_size: windows per prediction batch (default ``batch_size``).
        num_parallel_samples: default samples per forecast.
        sampler, sampling_steps, eta: default reverse process (see :class:`~tsdiff.diffusion.SamplingOptions`).
        seed: seeds everything (Python, numpy, torch) before training and is the predictor's default
            sampling seed; makes CPU training reproducible.
        trainer_kwargs: for ``lightning.Trainer`` (default ``max_epochs=100``, ``gradient_clip_val=10``,
            ``accelerator="auto"``): GPUs, precision, devices, logging...
        train_sampler, validation_sampler: GluonTS instance samplers.
        weights: the weights the trained model keeps: ``"last"`` (the end of training), ``"best"`` (the epoch of
            the lowest mean loss: validation loss with validation data, else training loss; GluonTS's rule) or
            ``None``: best with validation data, last without (:data:`tsdiff.models.base.estimator.WEIGHTS`).
    """

    prediction_input_names = PREDICTION_INPUT_NAMES
    training_input_names = TRAINING_INPUT_NAMES
    time_series_fields = [FieldName.FEAT_TIME, FieldName.OBSERVED_VALUES]

    @validated()
    def __init__(
        self,
        freq: str,
        prediction_length: int,
        target_dim: int,
        context_length: Optional[int] = None,
        num_layers: int = 2,
        hidden_size: int = 40,
        dropout_rate: float = 0.1,
        cell_type: str = "LSTM",
        embedding_dim: int = 1,
        conditioning_length: int = 100,
        scaling: str = "mean",
        increments: bool = False,
        difference_lag: Union[int, str] = 0,
        prediction: str = "epsilon",
        lags_seq: Optional[List[int]] = None,
        time_features: Optional[List[TimeFeature]] = None,
        num_feat_dynamic_real: int = 0,
        num_past_feat_dynamic_real: int = 0,
        num_feat_static_real: int = 0,
        cardinality: Optional[List[int]] = None,
        category_embedding_dim: Optional[int] = None,
        num_diffusion_steps: int = 100,
        beta_schedule: str = "linear",
        beta_start: float = 1e-4,
        beta_end: float = 0.1,
        residual_layers: int = 8,
        residual_channels: int = 8,
        dilation_cycle_length: int = 2,
        cond_upsampler_dim: Optional[int] = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        lr_schedule: str = "onecycle",
        ema_decay: Optional[float] = None,
        batch_size: int = 64,
        num_batches_per_epoch: int = 100,
        prediction_batch_size: Optional[int] = None,
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
            context_length=prediction_length if context_length is None else context_length,
            batch_size=batch_size, num_batches_per_epoch=num_batches_per_epoch,
            prediction_batch_size=batch_size if prediction_batch_size is None else prediction_batch_size,
            seed=seed, trainer_kwargs=trainer_kwargs,
            default_trainer_kwargs={"max_epochs": 100, "gradient_clip_val": 10.0},
            train_sampler=train_sampler, validation_sampler=validation_sampler, weights=weights,
        )
        self.target_dim = target_dim
        self.time_features = (
            time_features if time_features is not None else time_features_from_frequency_str(freq)
        )
        if not self.time_features and num_feat_dynamic_real + num_past_feat_dynamic_real == 0:
            # Yearly data has no calendar features (GluonTS gives none), but the RNN reads a feature block at every
            # step: one constant zero column, which adds nothing, keeps that block non-empty.
            self.time_features = [Constant()]
        self.num_feat_dynamic_real = num_feat_dynamic_real
        self.num_past_feat_dynamic_real = num_past_feat_dynamic_real
        self.num_feat_static_real = num_feat_static_real
        self.cardinality = list(cardinality or [])
        self.model_kwargs = model_arguments(
            TimeGradModel, locals(), context_length=self.context_length,
            num_time_features=len(self.time_features) + num_feat_dynamic_real + num_past_feat_dynamic_real,
            difference_lag=resolve_difference_lag(difference_lag, freq))
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.ema_decay = ema_decay
        # every hyperparameter is checked now, without building the network, so a bad one fails here
        TimeGradModel.check_arguments(**self.model_kwargs)
        TimeGradLightningModule.check_arguments(lr=lr, weight_decay=weight_decay, lr_schedule=lr_schedule,
                                                ema_decay=ema_decay)

    def _static_fields(self) -> list:
        """The static fields as arrays the batches stack, empty (size 0) where the model takes none."""
        steps = []
        for field, count, dtype in ((FieldName.FEAT_STATIC_REAL, self.num_feat_static_real, np.float32),
                                    (FieldName.FEAT_STATIC_CAT, len(self.cardinality), np.int64)):
            if count == 0:
                steps.append(SetField(output_field=field, value=np.zeros(0, dtype=dtype)))
            steps.append(AsNumpyArray(field=field, expected_ndim=1, dtype=dtype))
        return steps

    def create_transformation(self) -> Transformation:
        dynamic = [FieldName.FEAT_DYNAMIC_REAL] if self.num_feat_dynamic_real > 0 else []
        past_only = [FieldName.PAST_FEAT_DYNAMIC_REAL] if self.num_past_feat_dynamic_real > 0 else []
        remove = ([] if dynamic else [FieldName.FEAT_DYNAMIC_REAL]) + (
            [] if past_only else [FieldName.PAST_FEAT_DYNAMIC_REAL])
        # the past-only covariates come last among the step features: the model hides them on the horizon
        pad = [PadPastOnlyFeatures(self.prediction_length)] if past_only else []
        return Chain(
            [
                RemoveFields(field_names=remove),
                *self._static_fields(),
                AsNumpyArray(field=FieldName.TARGET, expected_ndim=2),
                # observed_values = ~isnan(target); NaNs become 0 here and are masked again inside the model.
                AddObservedValuesIndicator(target_field=FieldName.TARGET, output_field=FieldName.OBSERVED_VALUES),
                AddTimeFeatures(
                    start_field=FieldName.START,
                    target_field=FieldName.TARGET,
                    output_field=FieldName.FEAT_TIME,
                    time_features=self.time_features,
                    pred_length=self.prediction_length,
                ),
                *pad,
                VstackFeatures(output_field=FieldName.FEAT_TIME,
                               input_fields=[FieldName.FEAT_TIME] + dynamic + past_only),
                AsNumpyArray(FieldName.FEAT_TIME, expected_ndim=2),
                TargetDimIndicator(field_name=TARGET_DIM_INDICATOR, target_field=FieldName.TARGET),
                AsNumpyArray(field=TARGET_DIM_INDICATOR, expected_ndim=1, dtype=np.int64),
            ]
        )

    def past_length(self, module: TimeGradLightningModule) -> int:
        return module.model.past_length

    def create_lightning_module(self) -> TimeGradLightningModule:
        return TimeGradLightningModule(
            model_kwargs=self.model_kwargs, lr=self.lr, weight_decay=self.weight_decay,
            lr_schedule=self.lr_schedule, total_steps=self.total_training_steps(), ema_decay=self.ema_decay,
        )
