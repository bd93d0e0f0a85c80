"""Fits for the fault-tolerance tests, and a script that runs one in a child process and dies part-way.

    python tests/fault_helpers.py MODEL CHECKPOINT_DIR BATCHES THREADS

fits ``MODEL`` ("timegrad" or "csdi", settings below) with ``checkpoint_dir=CHECKPOINT_DIR`` and ends the process
with ``os._exit(KILLED)`` — no cleanup, as a kill — after ``BATCHES`` training batches.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import lightning.pytorch as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_helpers import CSDI_FAST, FAST, hourly_frame  # noqa: E402

KILLED = 17
EPOCHS, BATCHES_PER_EPOCH = 4, 3
SETTINGS = {
    "timegrad": dict(FAST, epochs=EPOCHS, num_batches_per_epoch=BATCHES_PER_EPOCH, seed=5),
    "csdi": dict(CSDI_FAST, epochs=EPOCHS, num_batches_per_epoch=BATCHES_PER_EPOCH, seed=5),
}


class DieAfter(pl.Callback):
    """Ends the process, as a kill would, after ``batches`` training batches."""

    def __init__(self, batches: int):
        self.batches, self.seen = batches, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seen += 1
        if self.seen == self.batches:
            sys.stdout.flush()
            os._exit(KILLED)


class CountBatches(pl.Callback):
    def __init__(self):
        self.seen = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seen += 1


def make_model(name: str, callbacks=()):
    import tsdiff

    cls = {"timegrad": tsdiff.TimeGrad, "csdi": tsdiff.CSDI}[name]
    return cls(prediction_length=6, trainer_kwargs={"callbacks": list(callbacks)}, **SETTINGS[name])


def data():
    return hourly_frame(120)


if __name__ == "__main__":
    import torch

    model_name, directory, batches, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    make_model(model_name, [DieAfter(batches)]).fit(data(), checkpoint_dir=directory)
    sys.exit(0)  # not reached when BATCHES < the run's batches
