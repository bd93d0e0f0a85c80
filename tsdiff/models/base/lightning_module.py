"""The Lightning module both families train with: the loss of the pure model, logging, Adam and its schedule."""
from __future__ import annotations

import copy

import lightning.pytorch as pl
import numpy as np
import torch
from gluonts.itertools import select

from tsdiff.nn import ema_decay_at, ema_update

from .guards import check_finite_loss, check_finite_weights
from .recipe import LR_SCHEDULES, check_optimiser, configure_optimiser

__all__ = ["DiffusionLightningModule", "LR_SCHEDULES"]


class DiffusionLightningModule(pl.LightningModule):
    """Trains a pure model module (``model_class(**model_kwargs)``) whose ``loss(**fields)`` returns a scalar.

    Subclasses set ``model_class`` and ``training_input_names`` (the batch fields ``loss`` takes) and decorate their
    ``__init__`` with ``@validated()``. ``forward`` is the model's sampling forward.

    Args:
        model_kwargs: arguments of ``model_class``.
        lr, weight_decay: Adam.
        lr_schedule: one of :data:`LR_SCHEDULES`; ``total_steps`` (per-step schedules; default: Lightning's
            estimate) and ``lr_milestones`` (``"multistep"``: fractions of the epochs where lr drops tenfold).
        model: train this already built model instead of building one from ``model_kwargs``.
        ema_decay: if set (in (0, 1)), keep an exponential moving average of the weights in ``ema_model``
            (:mod:`tsdiff.nn.ema`, with its warm-up), updated after every optimiser step; ``sampling_model`` (what
            ``forward`` and the predictor use) is then the average. It is a submodule, so checkpoints carry it.
            ``None``: sample with the trained weights.
    """

    model_class: type = None
    training_input_names: list = []

    def __init__(self, model_kwargs: dict, lr: float = 1e-3, weight_decay: float = 1e-6,
                 lr_schedule: str = "onecycle", total_steps: int | None = None,
                 lr_milestones: tuple = (0.75, 0.9), model: torch.nn.Module | None = None,
                 ema_decay: float | None = None) -> None:
        super().__init__()
        check_optimiser(lr, weight_decay, lr_schedule, lr_milestones, ema_decay)
        self.model = self.model_class(**model_kwargs) if model is None else model
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.total_steps = total_steps
        self.lr_milestones = tuple(lr_milestones)
        self.ema_decay = ema_decay
        self.ema_model = None if ema_decay is None else copy.deepcopy(self.model).requires_grad_(False)
        # a buffer, so that a resumed run continues the warm-up where it stopped
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))

    @property
    def sampling_model(self) -> torch.nn.Module:
        """The weights that sample: the moving average if ``ema_decay`` is set, else the trained ones."""
        return self.model if self.ema_model is None else self.ema_model

    def forward(self, *args, **kwargs) -> torch.Tensor:
        return self.sampling_model(*args, **kwargs)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.ema_model is not None:
            self.ema_updates += 1
            ema_update(self.ema_model, self.model, ema_decay_at(int(self.ema_updates), self.ema_decay))

    def _loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        kwargs = {} if generator is None else {"generator": generator}
        return self.model.loss(**select(self.training_input_names, batch), **kwargs)

    @staticmethod
    def _batch_size(batch) -> int:
        return next(v for v in batch.values() if isinstance(v, torch.Tensor)).shape[0]

    def on_train_start(self) -> None:
        # Under DDP every rank was seeded alike, so each would draw the same training windows (numpy drives
        # GluonTS's instance sampling): give each rank its own numpy stream, derived from the shared one.
        if self.trainer.world_size > 1:
            base = int(np.random.randint(0, 2**31 - self.trainer.world_size))
            np.random.seed(base + self.global_rank)

    def training_step(self, batch, batch_idx: int):  # type: ignore[override]
        loss = self._loss(batch)
        check_finite_loss(loss, self, batch, batch_idx)  # the first NaN/inf step stops training, naming itself
        self.log("train_loss", loss, on_epoch=True, on_step=False, prog_bar=True, batch_size=self._batch_size(batch))
        return loss

    def on_train_end(self) -> None:
        check_finite_weights(self)  # a last step can diverge without a loss left to show it

    def on_validation_epoch_start(self) -> None:
        # A fixed generator for masks, steps and noise: the validation loss of two epochs is comparable.
        self._valid_generator = torch.Generator(device=self.device).manual_seed(12345)

    def validation_step(self, batch, batch_idx: int):  # type: ignore[override]
        loss = self._loss(batch, self._valid_generator)
        self.log("val_loss", loss, on_epoch=True, on_step=False, prog_bar=True, batch_size=self._batch_size(batch))
        return loss

    def configure_optimizers(self):
        total = self.total_steps
        if total is None and self.lr_schedule in ("onecycle", "cosine"):
            total = self.trainer.estimated_stepping_batches
        max_epochs = self.trainer.max_epochs if self.trainer is not None else None
        max_steps = self.trainer.max_steps if self.trainer is not None else None  # -1: no step budget
        return configure_optimiser(self.model.parameters(), self.lr, self.weight_decay, self.lr_schedule,
                                   total_steps=total, max_epochs=max_epochs, lr_milestones=self.lr_milestones,
                                   max_steps=max_steps)
