"""Warning and log control, in one place: what the stack below tsdiff prints that a user cannot act on.

A ground-floor module: it imports nothing else of tsdiff. Lightning is only touched when :func:`quiet_lightning`
is entered.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import warnings

# pandas deprecates GluonTS's historical frequency spellings ("B" periods, "H"); the offsets are the same.
FREQ_DEPRECATIONS = ".*(BDay|freq='B'|PeriodDtype|'H')"
# Lightning/GluonTS notices on every CPU training run: data-loader workers, an unused GPU, no validation loop,
# pytree internals, a non-tuple index inside gluonts.torch.
LIGHTNING_NOISE = ".*(num_workers|does not have many workers|GPU available but not used|no `val_dataloader`|" \
                  "LeafSpec|non-tuple sequence|validation_step|Checkpoint directory .* exists and is not empty).*"
LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric", "gluonts")


@contextlib.contextmanager
def freq_deprecations_silenced():
    """Inside: pandas' FutureWarnings about GluonTS's frequency spellings are not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=FREQ_DEPRECATIONS)
        yield


def quiet_freq_deprecations(func):
    """Decorator form of :func:`freq_deprecations_silenced`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with freq_deprecations_silenced():
            return func(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def quiet_lightning(verbose: bool = False):
    """Inside: Lightning's banners and info lines ("GPU available", checkpoint notices) and its per-run warnings are
    not shown (``verbose=True`` keeps the info lines). Logger levels are restored on exit."""
    import lightning.pytorch  # noqa: F401  (configures its loggers on import; override after)

    level = logging.INFO if verbose else logging.WARNING
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    try:
        for name in LOGGERS:
            logging.getLogger(name).setLevel(level)
        with warnings.catch_warnings(), freq_deprecations_silenced():
            warnings.filterwarnings("ignore", message=LIGHTNING_NOISE)
            yield
    finally:
        for name, old in saved.items():
            logging.getLogger(name).setLevel(old)


_PACKAGE_DIR = __file__.rsplit("/", 1)[0] + "/"


def user_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` in the calling function that points at the first frame outside
    tsdiff (the user's line), however many tsdiff frames lie between: the paths to a warning differ (joint or
    panel fit, TimeGrad or CSDI), so a fixed number would blame tsdiff's own code on some of them."""
    import sys

    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
