"""Training guards: stop at the first non-finite loss, and let no training error be swallowed.

A diverged run (loss NaN or ±inf) otherwise trains on silently — every later step is NaN too — and ends in a
"fitted" model whose forecasts are NaN. :func:`check_finite_loss` turns the first such step into an error naming
the step and the likely causes. :class:`TrainingFaults` records any exception raised inside Lightning's ``fit``, so
that a wrapper which catches it (GluonTS's ``train_model`` "recovers" from its best checkpoint and returns a model)
can raise it again.
"""
from __future__ import annotations

import contextlib
import logging

import lightning.pytorch as pl
import torch


class NonFiniteLossError(ValueError, FloatingPointError):
    """The training loss became NaN or infinite: training stopped there, no model was fitted.

    Attributes: ``step`` (1-based count of training steps, the failing one included), ``epoch`` and ``batch``
    (1-based), ``loss`` (the value).
    """

    def __init__(self, message: str, step: int, epoch: int, batch: int, loss: float):
        super().__init__(message)
        self.step, self.epoch, self.batch, self.loss = step, epoch, batch, loss


def _largest_magnitude(batch) -> float | None:
    """Largest finite |value| over the floating-point tensors of a batch (dict or sequence), None if none."""
    tensors = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (list, tuple)) else ()
    largest = None
    for tensor in tensors:
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and tensor.numel():
            finite = tensor[torch.isfinite(tensor)]
            if finite.numel():
                value = float(finite.abs().max())
                largest = value if largest is None else max(largest, value)
    return largest


def check_finite_loss(loss: torch.Tensor, module: pl.LightningModule, batch=None, batch_idx: int = 0) -> None:
    """Raise :class:`NonFiniteLossError` if ``loss`` (a scalar) is NaN or infinite.

    The message names the training step (1-based, counting this one), the epoch and batch, the learning rate, and
    the largest |value| in the batch, so that the user can tell a learning rate that is too high from data on a
    scale the network cannot take. Costs one device-to-host read of the loss per step.
    """
    if bool(torch.isfinite(loss.detach()).all()):
        return
    trainer = module._trainer  # None outside a Trainer (a bare call to training_step)
    step = (trainer.global_step if trainer is not None else 0) + 1
    epoch = (trainer.current_epoch if trainer is not None else 0) + 1
    lr = getattr(module, "lr", None)
    largest = _largest_magnitude(batch)
    value = float(loss.detach().float().reshape(-1)[0])
    scale = "" if largest is None else f" (the largest |value| in this batch is {largest:.3g})"
    lr_text = "" if lr is None else f" (lr={lr:g})"
    raise NonFiniteLossError(
        f"training diverged: the loss is {value} at training step {step} (epoch {epoch}, batch {batch_idx + 1}); "
        f"training stopped and no model was fitted. Likely causes: a learning rate too high for this model{lr_text}"
        f" — try one ten times lower — or data on a scale the network cannot take{scale} — rescale or standardise "
        "it, or keep the model's scaling on.",
        step=step, epoch=epoch, batch=batch_idx + 1, loss=value)


def check_finite_weights(module: pl.LightningModule) -> None:
    """Raise :class:`NonFiniteLossError` if a parameter holds NaN/inf at the end of training: a last step whose loss
    was finite can still have diverged (its gradients were not), and no later loss would reveal it."""
    bad = [name for name, p in module.named_parameters() if not bool(torch.isfinite(p).all())]
    if bad:
        trainer = module._trainer
        step = trainer.global_step if trainer is not None else 0
        raise NonFiniteLossError(
            f"training diverged in its last step (step {step}): {len(bad)} parameter tensors hold NaN or infinite "
            f"values (e.g. {bad[0]}); no model was fitted. Likely causes: a learning rate too high for this model "
            "— try one ten times lower — or data on a scale the network cannot take.",
            step=step, epoch=(trainer.current_epoch if trainer is not None else 0) + 1, batch=0, loss=float("nan"))


class TrainingFaults(pl.Callback):
    """Records the first exception raised inside ``Trainer.fit`` (Lightning calls ``on_exception`` before it
    re-raises), so that code above a wrapper that catches it can still raise it: :meth:`raise_if_failed`."""

    def __init__(self):
        self.exception: BaseException | None = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if self.exception is None:
            self.exception = exception

    def raise_if_failed(self) -> None:
        if self.exception is not None:
            raise self.exception


class _DropRecoveryNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Recovering from a checkpoint")


@contextlib.contextmanager
def no_recovery_notice():
    """Inside: GluonTS's "Recovering from a checkpoint after training failed" log line is dropped — the error is
    raised after all (:class:`TrainingFaults`), so the line would only mislead."""
    logger, notice = logging.getLogger("gluonts.torch.model.estimator"), _DropRecoveryNotice()
    logger.addFilter(notice)
    try:
        yield
    finally:
        logger.removeFilter(notice)
