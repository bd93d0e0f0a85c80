"""What the pandas models print, all of it on stderr: one progress bar per phase (fit, sampling) with a total and an
ETA, for both models alike, and an optional per-epoch loss line; an optional CSV/TensorBoard log of the loss curve.

``verbose``: 0 prints nothing; 1 (the default) the two progress bars; 2 also a line per epoch (train and validation
loss) and Lightning's own notices (accelerator, checkpoints), which are hidden otherwise.
"""
from __future__ import annotations

import contextlib
import numbers
import sys

from lightning.pytorch.callbacks import ProgressBar
from tqdm.auto import tqdm

VERBOSITY = (0, 1, 2)
LOGGERS = ("csv", "tensorboard")


def check_console(model) -> None:
    """Check ``verbose``, ``logger`` and ``log_dir`` (ValueError/TypeError naming the argument)."""
    verbose = model.verbose
    if isinstance(verbose, bool) or not isinstance(verbose, numbers.Integral) or verbose not in VERBOSITY:
        raise ValueError(f"verbose must be 0 (silent), 1 (progress bars) or 2 (bars, per-epoch losses and "
                         f"Lightning's notices), got {verbose!r}")
    if model.logger is not None and model.logger not in LOGGERS:
        raise ValueError(f"logger must be None, 'csv' or 'tensorboard', got {model.logger!r} (a Lightning logger "
                         "object goes in trainer_kwargs={'logger': ...})")
    if not isinstance(model.log_dir, str) or not model.log_dir:
        raise TypeError(f"log_dir must be a directory name (str), got {model.log_dir!r}")


def make_logger(kind: str | None, log_dir: str, name: str):
    """A Lightning logger writing the loss curve under ``log_dir/name/version_N`` (None for ``kind=None``)."""
    if kind is None:
        return None
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=log_dir, name=name)
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            raise ValueError("logger='tensorboard' needs the tensorboard package (pip install tensorboard); "
                             "logger='csv' needs nothing more") from None
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=log_dir, name=name)


def _bar(total: int, desc: str, unit: str) -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True)


class FitProgressBar(ProgressBar):
    """One bar over the whole fit: ``total`` training batches (epochs × batches per epoch), the epoch and the recent
    loss as postfix. It closes early when training stops early (time limit, early stopping)."""

    def __init__(self, total: int, desc: str):
        super().__init__()
        self.total, self.desc, self.enabled, self.bar = int(total), desc, True, None

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def print(self, *args, **kwargs) -> None:
        tqdm.write(" ".join(map(str, args)), file=sys.stderr)

    def on_train_start(self, trainer, module):
        if self.enabled:
            self.bar = _bar(self.total, self.desc, "batch")

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self.bar is None:
            return
        self.bar.update(1)
        if batch_idx % 10 == 0:  # reading the loss syncs with a GPU: not every batch
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else "?"
            self.bar.set_postfix_str(f"epoch {trainer.current_epoch + 1}/{epochs}, loss {float(loss):.3f}",
                                     refresh=False)

    def on_train_end(self, trainer, module):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def epoch_line(model, record: dict) -> None:
    """At ``verbose=2``: one line per epoch with its losses (above the bar)."""
    if model.verbose < 2:
        return
    val = "" if record["val_loss"] is None else f", val_loss {record['val_loss']:.4f}"
    tqdm.write(f"{model.name} epoch {record['epoch']}: train_loss {record['train_loss']:.4f}{val}", file=sys.stderr)


def network_calls(options, num_diffusion_steps: int) -> int:
    """Denoiser evaluations of one reverse process: all T steps for ddpm, ``sampling_steps`` for the others."""
    if options.sampler == "ddpm" or options.sampling_steps is None:
        return num_diffusion_steps
    return int(options.sampling_steps)


@contextlib.contextmanager
def sampling_progress(diffusion, total: int, desc: str, verbose: int):
    """Inside: a bar over ``total`` denoiser evaluations of ``diffusion`` (its ``sample`` calls are counted through
    the denoiser they are given; the model code is untouched). Nothing is shown at ``verbose=0``."""
    if verbose < 1:
        yield
        return
    bar = _bar(total, desc, "step")
    original = diffusion.sample

    def counted_sample(denoiser, *args, **kwargs):
        def counting(*a, **k):
            bar.update(1)
            return denoiser(*a, **k)

        return original(counting, *args, **kwargs)

    diffusion.sample = counted_sample  # an instance attribute over the method, removed on exit
    try:
        yield bar
    finally:
        del diffusion.sample
        bar.close()
