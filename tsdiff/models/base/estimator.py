"""GluonTS estimator scaffolding shared by both families: instance splitting, data loaders, seeding, predictor."""
from __future__ import annotations

import inspect
from typing import Iterable, Optional

import lightning.pytorch as pl
import torch
from gluonts.dataset.common import Dataset
from gluonts.dataset.field_names import FieldName
from gluonts.dataset.loader import as_stacked_batches
from gluonts.itertools import Cyclic
from gluonts.torch.model.estimator import PyTorchLightningEstimator
from gluonts.transform import (
    ExpectedNumInstanceSampler,
    InstanceSplitter,
    TestSplitSampler,
    ValidationSplitSampler,
)
from gluonts.transform.sampler import InstanceSampler

from tsdiff import checks

from .guards import TrainingFaults, no_recovery_notice
from .predictor import DiffusionPredictor
from .seeding import seeded
from .resume import ResumableBatches, ResumeState


def model_arguments(model_class, values: dict, **overrides) -> dict:
    """The constructor arguments of ``model_class`` found in ``values`` (an estimator's ``locals()``), then
    ``overrides``: an estimator passes its model every hyperparameter it shares with it, by name, without listing
    them again."""
    names = [n for n in inspect.signature(model_class.__init__).parameters if n != "self"]
    return {**{n: values[n] for n in names if n in values}, **overrides}


class MappedBatches:
    """``fn`` applied to every batch of a re-iterable batch source (each epoch iterates it anew)."""

    def __init__(self, batches: Iterable, fn):
        self.batches, self.fn = batches, fn

    def __iter__(self):
        return (self.fn(batch) for batch in self.batches)

    def __len__(self) -> int:
        return len(self.batches)  # TypeError (no length) for sources that have none, as Lightning expects


#: ``weights=``: what a trained model keeps. ``"last"``: the weights at the end of training, where the learning-rate
#: schedule ends. ``"best"``: those of the epoch with the lowest mean loss, on the validation data if there are some,
#: else on the training batches (GluonTS's rule). ``None`` (the default): ``"best"`` with validation data, ``"last"``
#: without. A diffusion model's training loss is noisy (every sample draws its own noise level), so its "best" epoch
#: is mostly chance: on ETTh1 it kept CSDI's weights from halfway through the run, before the learning rate dropped.
WEIGHTS = ("last", "best")


class FinalWeights(pl.Callback):
    """Copies the module's weights (the moving average too) when training ends, for ``weights="last"``."""

    def __init__(self) -> None:
        self.state: Optional[dict] = None

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}


class DiffusionEstimator(PyTorchLightningEstimator):
    """Base of :class:`~tsdiff.models.timegrad.TimeGradEstimator` and :class:`~tsdiff.models.csdi.CSDIEstimator`.

    A subclass provides ``create_transformation``, ``create_lightning_module``, the field lists
    ``prediction_input_names``/``training_input_names``, ``time_series_fields`` (fields split with the target) and
    :meth:`past_length`; it may post-process batches with :meth:`prepare_batches`.

    Common args: ``freq``, ``prediction_length``, ``context_length``; ``batch_size``, ``num_batches_per_epoch``
    (training windows); ``prediction_batch_size`` (windows per prediction batch; all their samples are drawn
    together); ``seed`` (seeds Python, numpy and torch for the training, making CPU training reproducible, then
    restores the caller's generator states; also the predictor's default sampling seed); ``trainer_kwargs`` (over
    ``default_trainer_kwargs``); ``train_sampler``,
    ``validation_sampler`` (GluonTS instance samplers; default: one window per series on average, the last window);
    ``weights``: which weights the trained model keeps (see :data:`WEIGHTS`).
    """

    prediction_input_names: list = []
    training_input_names: list = []
    time_series_fields: list = [FieldName.OBSERVED_VALUES]

    def __init__(
        self,
        freq: str,
        prediction_length: int,
        context_length: int,
        batch_size: int,
        num_batches_per_epoch: int,
        prediction_batch_size: int,
        seed: Optional[int],
        trainer_kwargs: Optional[dict],
        default_trainer_kwargs: dict,
        train_sampler: Optional[InstanceSampler] = None,
        validation_sampler: Optional[InstanceSampler] = None,
        weights: Optional[str] = None,
    ) -> None:
        super().__init__(trainer_kwargs={**default_trainer_kwargs, **(trainer_kwargs or {})})
        self.weights = None if weights is None else checks.one_of(weights, "weights", WEIGHTS)
        self.freq = freq
        self.prediction_length = checks.positive_int(prediction_length, "prediction_length")
        self.context_length = checks.positive_int(context_length, "context_length")
        self.batch_size = checks.positive_int(batch_size, "batch_size")
        self.num_batches_per_epoch = checks.positive_int(num_batches_per_epoch, "num_batches_per_epoch")
        self.prediction_batch_size = checks.positive_int(prediction_batch_size, "prediction_batch_size")
        self.seed = None if seed is None else checks.seed(seed)
        self.train_sampler = train_sampler or ExpectedNumInstanceSampler(
            num_instances=1.0, min_past=self.min_past(), min_future=prediction_length
        )
        self.validation_sampler = validation_sampler or ValidationSplitSampler(min_future=prediction_length)

    # -- hooks ------------------------------------------------------------------------------------------------------
    def min_past(self) -> int:
        """Fewest observed past steps a training window needs (0: windows may start inside the padding)."""
        return 0

    def past_length(self, module) -> int:
        """Steps of history in a window (the model's context plus whatever its features look back)."""
        return self.context_length

    def prepare_batches(self, batches: Iterable) -> Iterable:
        """The batches the Lightning module trains on (default: as stacked)."""
        return batches

    def total_training_steps(self) -> Optional[int]:
        """Optimiser steps of the whole run from ``trainer_kwargs`` (``max_steps``, else epochs × batches)."""
        max_epochs = self.trainer_kwargs.get("max_epochs")
        max_steps = self.trainer_kwargs.get("max_steps", -1)
        if max_steps is not None and max_steps > 0:
            return max_steps
        if max_epochs is not None and max_epochs > 0:
            return max_epochs * self.num_batches_per_epoch
        return None

    # -- data -------------------------------------------------------------------------------------------------------
    def _create_instance_splitter(self, module, mode: str) -> InstanceSplitter:
        sampler = {"training": self.train_sampler, "validation": self.validation_sampler,
                   "test": TestSplitSampler()}[mode]
        return InstanceSplitter(
            target_field=FieldName.TARGET,
            is_pad_field=FieldName.IS_PAD,
            start_field=FieldName.START,
            forecast_start_field=FieldName.FORECAST_START,
            instance_sampler=sampler,
            past_length=self.past_length(module),
            future_length=self.prediction_length,
            time_series_fields=self.time_series_fields,
            output_NTC=True,  # (T, D): time first
        )

    def create_training_data_loader(self, data: Dataset, module, shuffle_buffer_length: Optional[int] = None,
                                    **kwargs) -> Iterable:
        instances = self._create_instance_splitter(module, "training").apply(Cyclic(data).stream(), is_train=True)
        batches = ResumableBatches(self.prepare_batches(as_stacked_batches(
            instances, batch_size=self.batch_size, shuffle_buffer_length=shuffle_buffer_length,
            field_names=self.gluonts_fields(), output_type=torch.tensor,
            num_batches_per_epoch=self.num_batches_per_epoch,
        )))
        resume_state = getattr(self, "_resume_state", None)  # set while train_model runs
        return batches if resume_state is None else resume_state.register(batches)

    def create_validation_data_loader(self, data: Dataset, module, **kwargs) -> Iterable:
        instances = self._create_instance_splitter(module, "validation").apply(data, is_train=True)
        return self.prepare_batches(as_stacked_batches(
            instances, batch_size=self.batch_size, field_names=self.gluonts_fields(), output_type=torch.tensor))

    def gluonts_fields(self) -> list:
        """The splitter's output fields a training batch holds (before :meth:`prepare_batches`)."""
        return self.training_input_names

    # -- training and prediction ------------------------------------------------------------------------------------
    def train_model(self, training_data: Dataset, validation_data: Optional[Dataset] = None, **kwargs):
        # Seeding before the module is built fixes its initial weights, the window sampling (numpy) and the
        # diffusion noise (torch): on CPU two runs with the same seed are identical. The caller's generators are
        # restored afterwards (seeded() forks them).
        # GluonTS's train_model catches a training error and returns its best checkpoint's model if it has one:
        # TrainingFaults records the error so that it is raised here all the same. ResumeState puts the random
        # streams and the data position into every checkpoint, so that ``ckpt_path=`` resumes exactly.
        had_callbacks = "callbacks" in self.trainer_kwargs
        callbacks = list(self.trainer_kwargs.get("callbacks", []))
        faults = TrainingFaults()
        # GluonTS restores the weights of the epoch with the lowest monitored loss; FinalWeights keeps the last ones
        final = FinalWeights() if (self.weights or ("best" if validation_data is not None else "last")) == "last" \
            else None
        self._resume_state = next((c for c in callbacks if isinstance(c, ResumeState)), None) or ResumeState()
        added = [faults] + ([] if self._resume_state in callbacks else [self._resume_state]) + ([final] if final else [])
        self.trainer_kwargs["callbacks"] = callbacks + added
        try:
            with seeded(self.seed), no_recovery_notice():
                output = super().train_model(training_data, validation_data, **kwargs)
        finally:  # GluonTS pops the callbacks out of trainer_kwargs: put the caller's back
            self._resume_state = None
            if had_callbacks:
                self.trainer_kwargs["callbacks"] = callbacks
            else:
                self.trainer_kwargs.pop("callbacks", None)
        faults.raise_if_failed()
        if final is not None and final.state is not None:
            output.trained_net.load_state_dict(final.state)  # the predictor samples with this same module
        return output

    def create_predictor(self, transformation, module) -> DiffusionPredictor:
        return DiffusionPredictor(
            input_transform=transformation + self._create_instance_splitter(module, "test"),
            input_names=self.prediction_input_names,
            prediction_net=module.sampling_model,
            batch_size=self.prediction_batch_size,
            prediction_length=self.prediction_length,
            device="auto",
            seed=self.seed,
        )
