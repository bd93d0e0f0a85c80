"""Lightning wrapper that trains a :class:`~tsdiff.models.csdi.module.CSDIForecastModel` (GluonTS torch style)."""
from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
from gluonts.core.component import validated

from tsdiff.nn import checks

from .module import CSDIForecastModel


class CSDILightningModule(pl.LightningModule):
    """Thin ``pl.LightningModule`` around :class:`CSDIForecastModel`: loss in training/validation steps,
    CSDI's optimiser (Adam, weight decay 1e-6) and schedule (lr × 0.1 at 75 % and 90 % of ``max_epochs``).

    Args:
        model_kwargs: arguments of :class:`CSDIForecastModel`.
        lr, weight_decay: Adam settings (CSDI: 1e-3, 1e-6).
        lr_milestones: fractions of ``trainer.max_epochs`` where the lr drops tenfold.
    Shapes: ``forward(past_target (B, C, D), past_observed_values (B, C, D), **options)`` → samples (B, S, P, D);
    ``options`` (``num_samples``, ``generator``, ``sampler``, ``sampling_steps``, ``eta``) go to
    :meth:`CSDIForecastModel.forward`.
    """

    @validated()
    def __init__(self, model_kwargs: dict, lr: float = 1e-3, weight_decay: float = 1e-6,
                 lr_milestones: tuple = (0.75, 0.9)) -> None:
        super().__init__()
        checks.positive_float(lr, "lr")
        checks.non_negative_float(weight_decay, "weight_decay")
        self.model = CSDIForecastModel(**model_kwargs)
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_milestones = lr_milestones

    def forward(self, *args, **kwargs):
        return self.model(*args, **kwargs)

    def _loss(self, batch) -> torch.Tensor:
        return self.model.loss(
            past_target=batch["past_target"],
            past_observed_values=batch["past_observed_values"],
            future_target=batch["future_target"],
            future_observed_values=batch["future_observed_values"],
        )

    def on_train_start(self) -> None:
        # Under DDP every rank was seeded alike, so each would draw the same training windows (numpy drives
        # GluonTS's instance sampling): give each rank its own numpy stream, derived from the shared one.
        if self.trainer.world_size > 1:
            base = int(np.random.randint(0, 2**31 - self.trainer.world_size))
            np.random.seed(base + self.global_rank)

    def training_step(self, batch, batch_idx: int):  # type: ignore
        loss = self._loss(batch)
        self.log("train_loss", loss, on_epoch=True, on_step=False, prog_bar=True,
                 batch_size=batch["past_target"].shape[0])
        return loss

    def validation_step(self, batch, batch_idx: int):  # type: ignore
        loss = self._loss(batch)
        self.log("val_loss", loss, on_epoch=True, on_step=False, prog_bar=True,
                 batch_size=batch["past_target"].shape[0])
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        max_epochs = self.trainer.max_epochs if self.trainer is not None and self.trainer.max_epochs else 1
        milestones = sorted({max(1, int(f * max_epochs)) for f in self.lr_milestones})
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
