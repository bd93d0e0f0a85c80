"""Training recipe pieces shared by both model families: the optimiser and its schedule, per-feature
standardisation, Lightning trainer defaults, and a pickle-free weights file."""
from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tsdiff import checks

#: Learning-rate schedules: TimeGrad's reference uses "onecycle" (per step), CSDI's "multistep" (lr × 0.1 at fixed
#: fractions of the epochs).
LR_SCHEDULES = ("onecycle", "cosine", "constant", "multistep")
DEVICES = {"auto": "auto", "cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "mps": "mps"}


def check_optimiser(lr, weight_decay, lr_schedule, lr_milestones=(0.75, 0.9), ema_decay=None) -> None:
    """Check the optimiser settings of :func:`configure_optimiser` and the weight average's decay (ValueError
    naming the bad one)."""
    checks.positive_float(lr, "lr")
    if ema_decay is not None and (isinstance(ema_decay, bool) or not isinstance(ema_decay, (int, float))
                                  or not 0.0 < ema_decay < 1.0):
        raise ValueError(f"ema_decay must be None or a number in (0, 1), got {ema_decay!r}")
    checks.non_negative_float(weight_decay, "weight_decay")
    checks.one_of(lr_schedule, "lr_schedule", LR_SCHEDULES)
    if not all(isinstance(f, (int, float)) and 0 < f < 1 for f in lr_milestones):
        raise ValueError(f"lr_milestones must be fractions in (0, 1), got {lr_milestones!r}")


def configure_optimiser(parameters, lr: float, weight_decay: float, lr_schedule: str, total_steps=None,
                        max_epochs=None, lr_milestones=(0.75, 0.9), max_steps=None):
    """Adam with one of :data:`LR_SCHEDULES`, in Lightning's ``configure_optimizers`` format.

    ``total_steps`` (optimiser steps of the run) lays out the per-step schedules; ``max_epochs`` the per-epoch
    ``"multistep"`` one (lr × 0.1 at each fraction of ``lr_milestones``), or ``max_steps`` when the run is a fixed
    number of optimiser steps (then the milestones are fractions of those steps). Without a known length a
    schedule falls back to a constant learning rate.
    """
    optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if lr_schedule == "constant":
        return optimizer
    if lr_schedule == "multistep":
        by_step = max_steps is not None and max_steps > 0
        length = max_steps if by_step else (max_epochs if max_epochs and max_epochs > 0 else 1)
        milestones = sorted({max(1, int(f * length)) for f in lr_milestones})
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
        interval = "step" if by_step else "epoch"
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}
    if total_steps is None or not math.isfinite(total_steps) or total_steps < 1:
        return optimizer  # unknown run length: no schedule can be laid out
    total = int(total_steps)
    if lr_schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total)
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


@dataclass(frozen=True)
class Standardiser:
    """Per-feature mean and standard deviation of observed values (population std, as CSDI standardises).

    A feature with no observation gets mean 0 and std 1; a constant one std 1.
    """

    mean: tuple
    std: tuple

    @classmethod
    def fit(cls, values: np.ndarray, observed: np.ndarray | None = None) -> "Standardiser":
        """``values`` (N, K) (features last; NaN where unobserved), ``observed`` (N, K) or None (= finite)."""
        values = np.asarray(values, dtype=np.float64)
        if observed is not None:
            values = np.where(np.asarray(observed) > 0, values, np.nan)
        by_feature = np.ascontiguousarray(values.T)  # (K, N): each feature's values contiguous
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a feature without observations: handled below
            mean, std = np.nanmean(by_feature, axis=1), np.nanstd(by_feature, axis=1)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        return cls(tuple(float(m) for m in mean), tuple(float(s) for s in std))


def trainer_kwargs(max_epochs: int, device: str = "auto", progress: bool = False, workdir=None, **overrides) -> dict:
    """Lightning ``Trainer`` arguments for a single-device run: no logger, no model summary, the progress bar only
    when asked, checkpoints under ``workdir``. ``overrides`` win."""
    checks.one_of(device, "device", DEVICES)
    kwargs = dict(max_epochs=int(max_epochs), accelerator=DEVICES[device], devices=1,
                  enable_progress_bar=bool(progress), enable_model_summary=False, logger=False)
    if workdir is not None:
        kwargs["default_root_dir"] = str(workdir)
    kwargs.update(overrides)
    return kwargs


def save_weights(path, module: torch.nn.Module, config: dict | None = None) -> Path:
    """Write ``module``'s state dict (and a JSON-able ``config``) as one ``.npz`` file; no pickle involved."""
    arrays = {f"w:{k}": v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    arrays["config"] = np.frombuffer(json.dumps(config or {}).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = Path(path)
    path.write_bytes(buffer.getvalue())
    return path


def load_weights(path) -> tuple[dict, dict]:
    """Inverse of :func:`save_weights`: (config, state dict of CPU tensors). Never unpickles."""
    with np.load(Path(path), allow_pickle=False) as arrays:
        config = json.loads(arrays["config"].tobytes().decode())
        state = {k[2:]: torch.from_numpy(arrays[k].copy()) for k in arrays.files if k.startswith("w:")}
    return config, state
