"""Lightning wrapper of :class:`TimeGradModel`: loss logging, optimiser and learning-rate schedule."""

import math
from typing import Optional

import lightning.pytorch as pl
import numpy as np
import torch
from gluonts.core.component import validated
from gluonts.itertools import select

from tsdiff.nn import checks

from .module import TimeGradModel

LR_SCHEDULES = ("onecycle", "cosine", "constant")

PREDICTION_INPUT_NAMES = [
    "target_dimension_indicator",
    "past_target",
    "past_observed_values",
    "past_time_feat",
    "future_time_feat",
]
TRAINING_INPUT_NAMES = PREDICTION_INPUT_NAMES + ["future_target", "future_observed_values"]


class TimeGradLightningModule(pl.LightningModule):
    """Trains a :class:`TimeGradModel` with Adam and a per-step learning-rate schedule.

    Args:
        model_kwargs: arguments of :class:`TimeGradModel`.
        lr: peak learning rate.
        weight_decay: Adam's L2 penalty (TimeGrad's reference uses 1e-6).
        lr_schedule: ``"onecycle"`` (TimeGrad's reference: warm-up to ``lr`` then anneal), ``"cosine"`` or
            ``"constant"``.
        total_steps: optimiser steps of the whole run, needed by the schedules (default: Lightning's estimate).

    ``forward`` is the model's sampling forward, so this module serves as the predictor's network.
    """

    @validated()
    def __init__(
        self,
        model_kwargs: dict,
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        lr_schedule: str = "onecycle",
        total_steps: Optional[int] = None,
    ) -> None:
        super().__init__()
        checks.one_of(lr_schedule, "lr_schedule", LR_SCHEDULES)
        checks.positive_float(lr, "lr")
        checks.non_negative_float(weight_decay, "weight_decay")
        self.model = TimeGradModel(**model_kwargs)
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.total_steps = total_steps

    def forward(self, *args, **kwargs) -> torch.Tensor:
        """Samples (B, num_samples, prediction_length, D); see :meth:`TimeGradModel.forward`."""
        return self.model(*args, **kwargs)

    def _loss(self, batch) -> torch.Tensor:
        return self.model.loss(**select(TRAINING_INPUT_NAMES, batch))

    def on_train_start(self) -> None:
        # Under DDP every rank was seeded alike, so each would draw the same training windows (numpy drives
        # GluonTS's instance sampling): give each rank its own numpy stream, derived from the shared one.
        if self.trainer.world_size > 1:
            base = int(np.random.randint(0, 2**31 - self.trainer.world_size))
            np.random.seed(base + self.global_rank)

    def training_step(self, batch, batch_idx: int):  # type: ignore[override]
        loss = self._loss(batch)
        self.log("train_loss", loss, on_epoch=True, on_step=False, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx: int):  # type: ignore[override]
        loss = self._loss(batch)
        self.log("val_loss", loss, on_epoch=True, on_step=False, prog_bar=True)
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.lr_schedule == "constant":
            return optimizer
        total = self.total_steps
        if total is None:
            total = self.trainer.estimated_stepping_batches
        if total is None or not math.isfinite(total) or total < 1:
            return optimizer  # unknown run length: no schedule can be laid out
        total = int(total)
        if self.lr_schedule == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr, total_steps=total)
        else:
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
