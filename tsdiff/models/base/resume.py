"""Resumable training: a fit killed mid-way continues from its last checkpoint and ends with the same weights as a
run that was never interrupted (same seed, same device).

Lightning's checkpoint holds the weights, the optimiser and schedule, and the loop counters; it lacks two things the
rest of the run depends on:

* the random streams: torch's (diffusion steps, noise, masks, dropout, CSDI's window order) and Python's —
  :class:`ResumeState` stores them in every checkpoint and puts them back on resume;
* the position of the training data: GluonTS draws training windows from numpy's global stream through a pipeline
  that holds state of its own (its instance sampler's running statistics, the series cursor), none of which can be
  saved. :class:`ResumableBatches` counts the passes (epochs) it has delivered and, on resume, rebuilds that state
  by replaying them — drawing and dropping the same windows, without touching the network.

Checkpoints are taken at epoch ends (:func:`checkpoint_callbacks`). A mid-epoch checkpoint could not be resumed
exactly: Lightning does not save the running mean of the epoch's loss, which GluonTS's best-epoch selection reads.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
from pathlib import Path
from typing import Iterable, Optional

import lightning.pytorch as pl
import numpy as np
import torch

CHECKPOINT_FILE = "resume.ckpt"
MANIFEST_FILE = "fit.json"  # what fit the checkpoint belongs to: a resume with other data or settings is refused


class ResumableBatches:
    """A re-iterable batch source (one pass = one epoch) whose position can be restored by replay.

    ``passes`` counts the passes delivered to the end. After :meth:`replay` (``n``), the next iteration first runs
    through the source until ``n`` passes have been consumed, discarding the batches: the source's random draws and
    internal state then equal those of the interrupted run at the start of its next epoch.
    """

    def __init__(self, batches: Iterable):
        self.batches = batches
        self.passes = 0
        self._replay_to = 0

    def replay(self, passes: int) -> None:
        self._replay_to = int(passes)

    def __iter__(self):
        while self.passes < self._replay_to:
            for _ in self.batches:
                pass
            self.passes += 1
        for batch in self.batches:
            yield batch
        self.passes += 1  # reached only when the pass is consumed to its end

    def __len__(self) -> int:
        return len(self.batches)  # TypeError for sources without a length, as Lightning expects


def _random_states() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_random_states(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)


class ResumeState(pl.Callback):
    """Adds to every Lightning checkpoint what resuming exactly needs besides it: the torch (CPU, CUDA) and Python
    random states at the time of the checkpoint, the passes each registered :class:`ResumableBatches` has delivered,
    and ``extra`` (a dict the owner fills, e.g. a training history). Restores them when a fit resumes.

    numpy's stream is not restored: on resume it restarts from the run's seed and the registered batch sources
    replay their passes, which advances it exactly as the interrupted run did (numpy draws nothing else in training).
    """

    def __init__(self, extra: Optional[dict] = None):
        self.sources: list[ResumableBatches] = []
        self.extra = extra if extra is not None else {}

    def register(self, source: ResumableBatches) -> ResumableBatches:
        self.sources.append(source)
        return source

    def state_dict(self) -> dict:
        return {"random": _random_states(), "passes": [s.passes for s in self.sources], "extra": dict(self.extra)}

    def load_state_dict(self, state_dict: dict) -> None:
        _set_random_states(state_dict["random"])
        for source, passes in zip(self.sources, state_dict.get("passes", [])):
            source.replay(passes)
        self.extra.update(state_dict.get("extra", {}))


def checkpoint_callbacks(checkpoint_dir) -> list:
    """The Lightning callback that writes ``checkpoint_dir/resume.ckpt`` at the end of every epoch (overwriting
    the previous one; Lightning writes it to a temporary file first, so a kill mid-write leaves the last one)."""
    return [pl.callbacks.ModelCheckpoint(
        dirpath=str(checkpoint_dir), filename=Path(CHECKPOINT_FILE).stem, monitor=None, save_top_k=1,
        every_n_epochs=1, save_on_train_epoch_end=True, enable_version_counter=False)]


def _jsonable(value):
    """A stable JSON stand-in for a setting JSON cannot hold (a function by its name; no memory addresses)."""
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def fingerprint(*arrays, **settings) -> dict:
    """What identifies a fit for :func:`prepare_checkpoint_dir`: ``settings`` (JSON-able) and a digest of ``arrays``
    (numpy arrays or tensors; None skipped)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            continue
        array = np.ascontiguousarray(array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else array)
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(array.tobytes())
    return {"settings": json.loads(json.dumps(settings, default=_jsonable)), "data": digest.hexdigest()}


def _differences(stored: dict, current: dict) -> list[str]:
    if not isinstance(stored, dict):
        return ["(unreadable record)"]
    different = []
    if stored.get("data") != current["data"]:
        different.append("the training data")
    old, new = stored.get("settings", {}), current["settings"]
    different += [f"{k}={old.get(k)!r} (now {new.get(k)!r})" for k in sorted(set(old) | set(new))
                  if old.get(k) != new.get(k)]
    return different


def check_checkpoint_dir(checkpoint_dir, resume: bool) -> Path | None:
    """Check, before any work, the ``checkpoint_dir``/``resume`` arguments of a fit: the path, if given, must be a
    directory that exists or can be created, and writable. Returns it as a Path (None: no checkpoints)."""
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be True or False, got {resume!r}")
    if checkpoint_dir is None:
        if resume:
            raise ValueError("resume=True needs checkpoint_dir: the directory that holds the checkpoint")
        return None
    if not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise TypeError(f"checkpoint_dir must be a path, got {checkpoint_dir!r}")
    path = Path(checkpoint_dir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"checkpoint_dir {str(path)!r} is a file; give a directory")
    existing = path
    while not existing.exists():  # the deepest part that exists must be a writable directory
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"checkpoint_dir {str(path)!r}: {str(existing)!r} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"checkpoint_dir {str(path)!r}: {str(existing)!r} is not writable (permission denied)")
    return path


def prepare_checkpoint_dir(checkpoint_dir: Path, resume: bool, identity: dict) -> str | None:
    """Create ``checkpoint_dir`` and decide where training starts: the checkpoint to resume from, or None (a
    fresh start, whose :func:`fingerprint` ``identity`` is recorded there).

    A checkpoint is resumed only with ``resume=True`` and only by the same fit (``identity`` equal to the one it
    was written with); anything else raises ValueError before training starts, so that a checkpoint is never
    overwritten by accident nor continued with other data or settings. ``resume=True`` without a checkpoint in the
    directory starts from scratch.
    """
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    checkpoint, manifest = checkpoint_dir / CHECKPOINT_FILE, checkpoint_dir / MANIFEST_FILE
    if checkpoint.exists():
        if not resume:
            raise ValueError(f"checkpoint_dir {str(checkpoint_dir)!r} already holds a checkpoint ({CHECKPOINT_FILE});"
                             " pass resume=True to continue that fit, or give an empty directory")
        try:
            stored = json.loads(manifest.read_text())
        except (OSError, ValueError):
            stored = None
        different = _differences(stored, identity)
        if different:
            raise ValueError(f"the checkpoint in {str(checkpoint_dir)!r} belongs to another fit: it differs in "
                             f"{', '.join(different)}; fit with the same data and settings to resume it, or give "
                             "another checkpoint_dir")
        return str(checkpoint)
    tmp = manifest.with_name(f".{manifest.name}.tmp")
    tmp.write_text(json.dumps(identity, indent=1))
    os.replace(tmp, manifest)
    return None
