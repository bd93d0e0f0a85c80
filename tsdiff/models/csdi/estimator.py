"""GluonTS estimator for CSDI used as a forecaster (the future part of a window is imputed).

Input data is GluonTS multivariate: each entry's ``target`` has shape (D, T) (group univariate series with
``gluonts.dataset.multivariate_grouper.MultivariateGrouper``). The predictor, a
:class:`~tsdiff.models.predictor.DiffusionPredictor`, yields ``SampleForecast``s whose samples have shape
(num_samples, prediction_length, D); ``predict`` takes ``seed``, ``sampler``, ``sampling_steps`` and ``eta`` per call.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

import numpy as np
import torch
from gluonts.core.component import validated
from gluonts.dataset.common import Dataset
from gluonts.dataset.field_names import FieldName
from gluonts.dataset.loader import as_stacked_batches
from gluonts.itertools import Cyclic
from gluonts.torch.model.estimator import PyTorchLightningEstimator
from gluonts.transform import (
    AddObservedValuesIndicator,
    AsNumpyArray,
    Chain,
    ExpectedNumInstanceSampler,
    InstanceSplitter,
    SelectFields,
    TestSplitSampler,
    Transformation,
    ValidationSplitSampler,
)
from gluonts.transform.sampler import InstanceSampler

from tsdiff.nn import checks

from ..predictor import DiffusionPredictor
from .lightning_module import CSDILightningModule

PREDICTION_INPUT_NAMES = ["past_target", "past_observed_values"]
TRAINING_INPUT_NAMES = PREDICTION_INPUT_NAMES + ["future_target", "future_observed_values"]


class CSDIEstimator(PyTorchLightningEstimator):
    """CSDI (Tashiro et al., 2021) forecaster: a (D × (context + prediction)) grid whose future is imputed.

    Args:
        freq: frequency string of the data.
        prediction_length: P.
        target_dim: D, dimension of the multivariate target.
        context_length: C, observed history given to the model (default: P).
        channels, layers, heads, step_embedding_dim, time_embedding_dim, feature_embedding_dim, dim_feedforward,
            dropout: network (CSDI: 64, 4, 8, 128, 128, 16, 64, 0.1).
        schedule_kind, num_steps, beta_start, beta_end: noise schedule (CSDI: quad, 50, 1e-4, 0.5).
        num_sample_features: train on a random subset of this many dimensions per window when D is larger (CSDI: 64).
        scaling: standardise each dimension with training-set mean/std (computed in ``train`` unless
            ``scaler_mean``/``scaler_std`` are given).
        lr, weight_decay: Adam (CSDI: 1e-3, 1e-6; lr × 0.1 at 75 %/90 % of ``max_epochs``).
        batch_size, num_batches_per_epoch: training batches.
        num_parallel_samples: default samples per series at prediction.
        sampler, sampling_steps, eta: default reverse process: ``"ddpm"`` (all ``num_steps``) or ``"ddim"`` with
            ``sampling_steps`` steps (default all) and noise ``eta``; ``predict`` can override each per call.
        seed: default sampling seed of the predictor (``predict(seed=...)`` overrides it; ``None`` draws from
            torch's global RNG). Training is seeded separately (e.g. ``lightning.pytorch.seed_everything``).
        prediction_batch_size: series per prediction batch (all their samples are drawn in one batch).
        trainer_kwargs: ``lightning.pytorch.Trainer`` arguments (default ``max_epochs=200``).
        train_sampler, validation_sampler: window samplers.
    """

    @validated()
    def __init__(
        self,
        freq: str,
        prediction_length: int,
        target_dim: int,
        context_length: Optional[int] = None,
        channels: int = 64,
        layers: int = 4,
        heads: int = 8,
        step_embedding_dim: int = 128,
        time_embedding_dim: int = 128,
        feature_embedding_dim: int = 16,
        dim_feedforward: int = 64,
        dropout: float = 0.1,
        schedule_kind: str = "quad",
        num_steps: int = 50,
        beta_start: float = 1e-4,
        beta_end: float = 0.5,
        num_sample_features: int = 64,
        scaling: bool = True,
        scaler_mean: Optional[List[float]] = None,
        scaler_std: Optional[List[float]] = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        batch_size: int = 16,
        num_batches_per_epoch: int = 50,
        num_parallel_samples: int = 100,
        sampler: str = "ddpm",
        sampling_steps: Optional[int] = None,
        eta: float = 0.0,
        seed: Optional[int] = None,
        prediction_batch_size: int = 64,
        trainer_kwargs: Optional[Dict[str, Any]] = None,
        train_sampler: Optional[InstanceSampler] = None,
        validation_sampler: Optional[InstanceSampler] = None,
    ) -> None:
        default_trainer_kwargs = {"max_epochs": 200}
        if trainer_kwargs is not None:
            default_trainer_kwargs.update(trainer_kwargs)
        super().__init__(trainer_kwargs=default_trainer_kwargs)
        if prediction_length < 1:
            raise ValueError(f"prediction_length must be >= 1, got {prediction_length}")
        self.freq = freq
        self.prediction_length = prediction_length
        self.target_dim = target_dim
        self.context_length = context_length if context_length is not None else prediction_length
        self.network_kwargs = dict(
            channels=channels, layers=layers, heads=heads, step_embedding_dim=step_embedding_dim,
            time_embedding_dim=time_embedding_dim, feature_embedding_dim=feature_embedding_dim,
            dim_feedforward=dim_feedforward, dropout=dropout, schedule_kind=schedule_kind, num_steps=num_steps,
            beta_start=beta_start, beta_end=beta_end,
        )
        self.num_sample_features = num_sample_features
        self.scaling = scaling
        self.scaler_mean = scaler_mean
        self.scaler_std = scaler_std
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.num_batches_per_epoch = num_batches_per_epoch
        self.num_parallel_samples = num_parallel_samples
        self.sampler = sampler
        self.sampling_steps = sampling_steps
        self.eta = eta
        self.seed = seed
        self.prediction_batch_size = prediction_batch_size
        self.train_sampler = train_sampler or ExpectedNumInstanceSampler(
            num_instances=1.0, min_past=self.context_length, min_future=prediction_length
        )
        self.validation_sampler = validation_sampler or ValidationSplitSampler(min_future=prediction_length)
        for name, value in [("batch_size", batch_size), ("num_batches_per_epoch", num_batches_per_epoch),
                            ("prediction_batch_size", prediction_batch_size)]:
            checks.positive_int(value, name)
        checks.dry_run_build(self.create_lightning_module)  # a bad hyperparameter fails here, not mid-training

    # -- data -------------------------------------------------------------------------------------------------------
    def create_transformation(self) -> Transformation:
        return Chain([
            SelectFields([FieldName.START, FieldName.TARGET, FieldName.ITEM_ID, "info"], allow_missing=True),
            AsNumpyArray(field=FieldName.TARGET, expected_ndim=2),
            AddObservedValuesIndicator(target_field=FieldName.TARGET, output_field=FieldName.OBSERVED_VALUES),
        ])

    def _create_instance_splitter(self, mode: str) -> InstanceSplitter:
        sampler = {"training": self.train_sampler, "validation": self.validation_sampler,
                   "test": TestSplitSampler()}[mode]
        return InstanceSplitter(
            target_field=FieldName.TARGET,
            is_pad_field=FieldName.IS_PAD,
            start_field=FieldName.START,
            forecast_start_field=FieldName.FORECAST_START,
            instance_sampler=sampler,
            past_length=self.context_length,
            future_length=self.prediction_length,
            time_series_fields=[FieldName.OBSERVED_VALUES],
        )

    def create_training_data_loader(self, data: Dataset, module, shuffle_buffer_length: Optional[int] = None,
                                    **kwargs) -> Iterable:
        instances = self._create_instance_splitter("training").apply(Cyclic(data).stream(), is_train=True)
        return as_stacked_batches(
            instances, batch_size=self.batch_size, shuffle_buffer_length=shuffle_buffer_length,
            field_names=TRAINING_INPUT_NAMES, output_type=torch.tensor,
            num_batches_per_epoch=self.num_batches_per_epoch,
        )

    def create_validation_data_loader(self, data: Dataset, module, **kwargs) -> Iterable:
        instances = self._create_instance_splitter("validation").apply(data, is_train=True)
        return as_stacked_batches(instances, batch_size=self.batch_size, field_names=TRAINING_INPUT_NAMES,
                                  output_type=torch.tensor)

    # -- model ------------------------------------------------------------------------------------------------------
    def _fit_scaler(self, training_data: Dataset) -> None:
        """Per-dimension mean/std of all (finite) training target values, as CSDI standardises."""
        targets = [np.asarray(entry[FieldName.TARGET], dtype=np.float64) for entry in training_data]
        if not targets or targets[0].ndim != 2 or any(t.shape[0] != self.target_dim for t in targets):
            raise ValueError(f"expected multivariate targets of shape ({self.target_dim}, T)")
        stacked = np.concatenate(targets, axis=1)
        mean, std = np.nanmean(stacked, axis=1), np.nanstd(stacked, axis=1)
        self.scaler_mean = [float(m) if np.isfinite(m) else 0.0 for m in mean]
        self.scaler_std = [float(s) if np.isfinite(s) and s > 0 else 1.0 for s in std]

    def train_model(self, training_data: Dataset, validation_data: Optional[Dataset] = None, **kwargs):
        if self.scaling and (self.scaler_mean is None or self.scaler_std is None):
            self._fit_scaler(training_data)
        return super().train_model(training_data, validation_data, **kwargs)

    def create_lightning_module(self) -> CSDILightningModule:
        mean = self.scaler_mean if self.scaling else None
        std = self.scaler_std if self.scaling else None
        return CSDILightningModule(
            lr=self.lr,
            weight_decay=self.weight_decay,
            model_kwargs=dict(
                target_dim=self.target_dim, context_length=self.context_length,
                prediction_length=self.prediction_length, num_parallel_samples=self.num_parallel_samples,
                scaler_mean=mean, scaler_std=std, num_sample_features=self.num_sample_features,
                sampler=self.sampler, sampling_steps=self.sampling_steps, eta=self.eta,
                **self.network_kwargs,
            ),
        )

    def create_predictor(self, transformation: Transformation, module: CSDILightningModule) -> DiffusionPredictor:
        return DiffusionPredictor(
            input_transform=transformation + self._create_instance_splitter("test"),
            input_names=PREDICTION_INPUT_NAMES,
            prediction_net=module,
            batch_size=self.prediction_batch_size,
            prediction_length=self.prediction_length,
            device="cpu" if not torch.cuda.is_available() else "auto",
            seed=self.seed,
            sampler=self.sampler,
            sampling_steps=self.sampling_steps,
            eta=self.eta,
        )
