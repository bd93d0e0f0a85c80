"""The training budget of the pandas models: time limit, validation tail and early stopping, the loss curve, and
the checks that tell a user when a fit has clearly not converged.

Everything here is backend-neutral: :class:`FitSession` hands both backends (GluonTS for TimeGrad, the tensor-level
imputer for CSDI) the same Lightning callbacks and trainer arguments, and reads the outcome back onto the model
(``loss_curve_``, ``stop_reason_``, ``log_dir_``).
"""
from __future__ import annotations

import copy
import numbers
import warnings
from datetime import timedelta

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import EarlyStopping, Timer
from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

from tsdiff.quiet import user_stacklevel

from . import console

#: A fit whose training loss fell by less than this fraction (first against last tenth of its batches) warns.
MIN_LOSS_DROP = 0.10
#: Fewer batches than this are too few to judge the loss trend (per-batch diffusion losses are noisy).
MIN_BATCHES_TO_JUDGE = 10
#: A forecast whose 90 % interval is wider than this many times the range of the history warns.
MAX_SPREAD_TO_RANGE = 10.0


class ConvergenceWarning(_SklearnConvergenceWarning):
    """The fit has clearly not converged (the loss hardly fell, or the forecasts spread absurdly wide).

    A subclass of scikit-learn's ``ConvergenceWarning``: filters written for scikit-learn models apply too."""


def check_budget(model) -> None:
    """Check ``time_limit``, ``validation_fraction`` and ``early_stopping_patience`` (ValueError/TypeError)."""
    limit = model.time_limit
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Real) or not limit > 0
                              or not np.isfinite(limit)):
        raise ValueError(f"time_limit must be a positive number of seconds or None, got {limit!r}")
    fraction = model.validation_fraction
    if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, numbers.Real)
                                 or not 0 < fraction < 1):
        raise ValueError(f"validation_fraction must be a number in (0, 1) or None, got {fraction!r}")
    patience = model.early_stopping_patience
    if patience is not None:
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 1:
            raise ValueError(f"early_stopping_patience must be a positive integer or None, got {patience!r}")
        if fraction is None:
            raise ValueError("early_stopping_patience needs a validation tail to watch: set validation_fraction "
                             "(e.g. 0.1)")


def validation_cut(model, length: int) -> int | None:
    """The first time step of the validation tail of a ``length``-step series (None without validation).

    The tail holds the last ``validation_fraction`` of the steps, at least ``prediction_length`` of them (one
    forecast window); the steps before it must still hold a training window (``context_length +
    prediction_length``). ValueError naming the numbers otherwise."""
    if model.validation_fraction is None:
        return None
    tail = max(int(round(model.validation_fraction * length)), model.prediction_length)
    needed = model.effective_context_length + model.prediction_length
    if length - tail < needed:
        raise ValueError(f"validation_fraction={model.validation_fraction} leaves {length - tail} of {length} time "
                         f"steps for training; {model.name} needs at least {needed} (context_length + "
                         "prediction_length) before the validation tail: lower validation_fraction or give more data")
    return length - tail


class TrainingMonitor(Callback):
    """Records the loss of every training batch, the epoch means and validation losses, and why training stopped."""

    def __init__(self, on_epoch=None):
        self.on_epoch = on_epoch  # called with each epoch's record
        self.batch_losses: list = []  # detached tensors; read once at the end (no GPU sync per batch)
        self.epochs: list[dict] = []
        self._epoch_start = 0
        self._val_loss = None
        self.stop_reason = None

    def on_train_epoch_start(self, trainer, module):
        self._epoch_start, self._val_loss = len(self.batch_losses), None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):
            self.batch_losses.append(loss.detach())

    def on_validation_end(self, trainer, module):
        if not trainer.sanity_checking and "val_loss" in trainer.callback_metrics:
            self._val_loss = float(trainer.callback_metrics["val_loss"])

    def on_train_epoch_end(self, trainer, module):
        losses = self.batch_losses[self._epoch_start:]
        record = {"epoch": len(self.epochs) + 1, "batches": len(losses),
                  "train_loss": float(torch.stack(losses).mean()) if losses else float("nan"),
                  "val_loss": self._val_loss}
        self.epochs.append(record)
        if self.on_epoch is not None:
            self.on_epoch(record)

    def on_train_end(self, trainer, module):
        stopper = next((c for c in trainer.callbacks if isinstance(c, EarlyStopping)), None)
        timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        if stopper is not None and stopper.stopped_epoch > 0:
            self.stop_reason = "early_stopping"
        elif timer is not None and timer.time_remaining() is not None and timer.time_remaining() <= 0:
            self.stop_reason = "time_limit"
        elif trainer.max_epochs is not None and trainer.current_epoch >= trainer.max_epochs:
            self.stop_reason = "max_epochs"
        else:
            self.stop_reason = "stopped"

    def losses(self) -> np.ndarray:
        return torch.stack(self.batch_losses).float().cpu().numpy() if self.batch_losses else np.empty(0)


class BestWeights(Callback):
    """Keeps, in memory, the weights of the epoch with the lowest validation loss and restores them at the end."""

    def __init__(self):
        self.best, self.state = float("inf"), None

    def on_validation_end(self, trainer, module):
        loss = trainer.callback_metrics.get("val_loss")
        if trainer.sanity_checking or loss is None or not float(loss) < self.best:
            return
        self.best = float(loss)
        self.state = copy.deepcopy({k: v.detach() for k, v in module.state_dict().items()})

    def on_train_end(self, trainer, module):
        if self.state is not None:
            module.load_state_dict(self.state)


class FitSession:
    """One fit's Lightning extras: callbacks (loss monitor, progress bar, early stopping, best weights), the time
    limit, the logger; :meth:`finish` copies the outcome onto the model and warns if the loss hardly fell."""

    def __init__(self, model, total_batches: int, validating: bool):
        self.model, self.total_batches, self.validating = model, total_batches, validating
        self.monitor = TrainingMonitor(on_epoch=lambda record: console.epoch_line(model, record))
        self.logger = console.make_logger(model.logger, model.log_dir, model.name)

    def trainer_kwargs(self) -> dict:
        """``lightning.Trainer`` arguments; the user's ``trainer_kwargs`` win, except ``callbacks``, which add up."""
        model, user = self.model, dict(self.model.trainer_kwargs or {})
        callbacks = [self.monitor]
        if self.validating:
            callbacks.append(BestWeights())
            if model.early_stopping_patience is not None:
                callbacks.append(EarlyStopping(monitor="val_loss", mode="min",
                                               patience=model.early_stopping_patience))
        kwargs = {"logger": self.logger if self.logger is not None else False, "num_sanity_val_steps": 0}
        if self.logger is not None:  # the loss is logged per epoch; Lightning warns if an epoch is shorter than this
            kwargs["log_every_n_steps"] = max(1, min(50, self.total_batches // max(model.epochs, 1)))
        show_bar = model.verbose >= 1 and user.get("enable_progress_bar", True)
        if show_bar:
            callbacks.append(console.FitProgressBar(self.total_batches, f"{model.name} fit"))
        kwargs["enable_progress_bar"] = bool(show_bar)
        if model.time_limit is not None:
            kwargs["max_time"] = timedelta(seconds=float(model.time_limit))
        kwargs.update({k: v for k, v in user.items() if k != "callbacks"})
        kwargs["callbacks"] = callbacks + list(user.get("callbacks", []))
        return kwargs

    def finish(self) -> None:
        model, monitor = self.model, self.monitor
        model.loss_curve_ = pd.DataFrame(monitor.epochs, columns=["epoch", "batches", "train_loss", "val_loss"]
                                         ).set_index("epoch")
        model.stop_reason_ = monitor.stop_reason
        model.log_dir_ = None if self.logger is None else self.logger.log_dir
        warn_if_loss_flat(model.name, monitor.losses())


def warn_if_loss_flat(name: str, losses: np.ndarray) -> bool:
    """Warn (:class:`ConvergenceWarning`) when the mean loss of the last tenth of the batches is within
    :data:`MIN_LOSS_DROP` of the first tenth's. Returns whether it warned.

    Why this criterion: an untrained ε-network scores ≈ 1 (E[ε²] = 1), and even on white noise, the least
    predictable data, a trained one reaches the mean of ᾱ_t over the steps (≈ 0.4 for both default schedules).
    A loss that fell by less than 10 % has learned next to nothing; its forecasts are mostly the sampler's noise."""
    losses = np.asarray(losses, dtype=np.float64)
    losses = losses[np.isfinite(losses)]
    if len(losses) < MIN_BATCHES_TO_JUDGE:
        return False
    k = max(2, len(losses) // 10)
    first, last = losses[:k].mean(), losses[-k:].mean()
    if first > 0 and last > (1 - MIN_LOSS_DROP) * first:
        warnings.warn(f"{name}: the training loss hardly fell ({first:.3g} → {last:.3g} over {len(losses)} "
                      "batches); the model has probably not converged and its forecasts will be mostly noise — "
                      "train longer (epochs, num_batches_per_epoch) or check model.loss_curve_",
                      ConvergenceWarning, stacklevel=user_stacklevel())
        return True
    return False


def warn_if_spread_implausible(name: str, samples: np.ndarray, history: np.ndarray, variables) -> bool:
    """Warn when a variable's 90 % forecast interval is over :data:`MAX_SPREAD_TO_RANGE` times the range of its
    history. Returns whether it warned.

    ``samples`` (S, H, D), ``history`` (D, T) with NaN where unobserved. Why 10×: a random walk's 90 % interval at
    horizon H is 3.3 σ √H, while its T-step history spans about 1.6 σ √T on average; with the shortest history a
    model accepts (T = 2H) the ratio's median is about 2, and in 3,000 simulated walks (H = 6) it never reached 7.5;
    for stationary data it stays below 1. A band ten times the range of everything seen is no forecast of this data
    (a one-epoch TimeGrad gives 20–90×)."""
    if samples.shape[0] < 2:
        return False
    lo, hi = np.quantile(samples, [0.05, 0.95], axis=0)  # (H, D)
    width = (hi - lo).max(axis=0)  # (D,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN variable: no range, skipped below
        span = np.nanmax(history, axis=1) - np.nanmin(history, axis=1)
    ratio = np.where(np.isfinite(span) & (span > 0), width / np.where(span > 0, span, 1.0), 0.0)
    if not (ratio > MAX_SPREAD_TO_RANGE).any():
        return False
    j = int(np.argmax(ratio))
    what = "the forecast" if variables[j] is None else f"the forecast of {variables[j]!r}"
    warnings.warn(f"{name}: {what} spreads absurdly wide — its 90 % interval is "
                  f"{ratio[j]:.0f}× the range of its history (width {width[j]:.3g}, history range {span[j]:.3g}); "
                  "the training has likely not converged: train longer (epochs, num_batches_per_epoch) or check "
                  "model.loss_curve_", ConvergenceWarning, stacklevel=user_stacklevel())
    return True
