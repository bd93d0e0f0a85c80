"""Tensor-level CSDI imputer: ``fit`` on partially observed windows, ``impute`` samples of the missing values.

A thin front end over :class:`CSDILightningModule`: the same model, training recipe and Lightning trainer as the
GluonTS :class:`CSDIEstimator`, fed from in-memory windows instead of GluonTS datasets.

Layout of everything here: ``values`` and ``observed_mask`` are ``(N, L, K)`` = windows × time × features (NaN
allowed where not observed); ``impute`` returns ``(num_samples, N, L, K)``.

>>> imp = CSDIImputer(residual_channels=64).fit(values, observed_mask, epochs=200)     # doctest: +SKIP
>>> samples = imp.impute(values, observed_mask - eval_mask, num_samples=100, seed=0)  # doctest: +SKIP
>>> median = samples.median(dim=0).values                                            # doctest: +SKIP
"""
from __future__ import annotations

import inspect
import math
import tempfile
import time
from typing import Callable, Optional, Sequence

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

from tsdiff import checks
from tsdiff.diffusion import SamplingOptions
from tsdiff.quiet import quiet_lightning

from ..base import Standardiser, recipe
from ..base.estimator import MappedBatches
from ..base.resume import (ResumeState, check_checkpoint_dir, checkpoint_callbacks, fingerprint,
                           prepare_checkpoint_dir)
from .chunked import impute_in_chunks
from .lightning_module import CSDILightningModule
from .masks import STRATEGIES
from .module import CSDIModel

#: What the imputer sets itself (from the data and ``fit``); every other :class:`CSDIModel` argument is a setting.
_SET_BY_FIT = ("self", "target_dim", "context_length", "prediction_length", "mask_strategy", "scaling", "scaler_mean",
               "scaler_std", "num_sample_features", "num_feat_dynamic_real", "num_parallel_samples")
#: The network, schedule and default-sampler settings of :class:`CSDIImputer`, with :class:`CSDIModel`'s defaults
#: (CSDI's): read off its signature, so a new hyperparameter of the model is a setting here at once.
MODEL_DEFAULTS = {name: p.default for name, p in inspect.signature(CSDIModel.__init__).parameters.items()
                  if name not in _SET_BY_FIT}


def _as_tensor(x, dtype=torch.float32) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(dtype)


def _check_windows(values, observed_mask):
    """Validated (values with 0 where unobserved, observed mask) float tensors of shape (N, L, K)."""
    values, observed_mask = _as_tensor(values), _as_tensor(observed_mask)
    if values.dim() != 3:
        raise ValueError(f"values must have shape (N, L, K), got {tuple(values.shape)}")
    if observed_mask.shape != values.shape:
        raise ValueError(f"observed_mask shape {tuple(observed_mask.shape)} != values shape {tuple(values.shape)}")
    if min(values.shape) < 1:
        raise ValueError(f"empty windows {tuple(values.shape)}")
    observed_mask = (observed_mask > 0).float() * torch.isfinite(values).float()
    values = torch.where(observed_mask > 0, values, torch.zeros_like(values))
    return values, observed_mask


class _EpochPermutation(Sampler):
    """Window order of an epoch: a fresh ``torch.randperm`` from torch's global RNG (seeded by ``fit``) when the
    epoch starts, so the order is part of the one reproducible training stream."""

    def __init__(self, n: int):
        self.n = n

    def __iter__(self):
        return iter(torch.randperm(self.n).tolist())

    def __len__(self) -> int:
        return self.n


def _window_batches(values, observed, batch_size: int, shuffle: bool) -> MappedBatches:
    order = _EpochPermutation(len(values)) if shuffle else None
    # a private generator for the loader's worker seed, which would otherwise be drawn from the global RNG
    loader = DataLoader(TensorDataset(values, observed), batch_size=batch_size, sampler=order,
                        generator=torch.Generator())
    return MappedBatches(loader, lambda b: {"window_target": b[0], "window_observed": b[1]})


class _EpochLog(pl.Callback):
    """Per-epoch records, the user's callback, and a stop after ``max_seconds`` of training time. The records and
    the training time so far go into checkpoints, so that a resumed fit continues them."""

    def __init__(self, imputer: "CSDIImputer", max_seconds: Optional[float], callback):
        self.imputer, self.max_seconds, self.callback = imputer, max_seconds, callback
        self.start = time.perf_counter()

    def _elapsed(self) -> float:
        return time.perf_counter() - self.start

    def state_dict(self) -> dict:
        return {"history": [dict(r) for r in self.imputer.history], "seconds": self._elapsed()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.imputer.history[:] = state_dict["history"]
        self.start = time.perf_counter() - state_dict["seconds"]

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self.max_seconds is not None and self._elapsed() > self.max_seconds:
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer, module):
        metrics = trainer.callback_metrics
        record = {"epoch": trainer.current_epoch + 1, "loss": float(metrics["train_loss"]),
                  "valid_loss": float(metrics["val_loss"]) if "val_loss" in metrics else None,
                  "seconds": self._elapsed(), "batches": trainer.global_step}
        self.imputer.history.append(record)
        if self.callback is not None:
            paused, training = time.perf_counter(), module.training
            module.eval()
            trained, self.imputer.model = self.imputer.model, module.sampling_model  # the callback samples as fit will
            try:
                with torch.random.fork_rng(devices=[]):  # the callback must not change the training stream
                    self.callback(self.imputer, record)
            finally:
                self.imputer.model = trained
            module.train(training)
            self.start += time.perf_counter() - paused  # time spent in the callback is not training time


class CSDIImputer:
    """CSDI imputation on (N, L, K) windows, trained through Lightning (CPU runs are reproducible).

    Args:
        num_features: K; inferred at the first :meth:`fit` when None.
        scaling: ``"global"`` (standardise each feature with the mean/std of its observed training values, as CSDI
            does; samples come back in the original units), ``"window"`` (each window by its given values) or
            ``"none"``.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``, for training and sampling.
        **model_kwargs: overrides of :data:`MODEL_DEFAULTS` (CSDI's defaults: 4 residual layers of 64 channels,
            8 heads, embeddings 128/128/16, quad schedule 1e-4 → 0.5 over 50 steps).
    Attributes:
        model: the :class:`CSDIModel` (after fit/load); history: per-epoch ``{"epoch", "loss", "valid_loss",
            "seconds", "batches"}`` (seconds: training wall time so far; batches: optimiser steps so far).
    """

    def __init__(self, num_features: Optional[int] = None, scaling: str = "global", device: str = "cpu",
                 **model_kwargs):
        unknown = set(model_kwargs) - set(MODEL_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown model arguments {sorted(unknown)}; the network settings are "
                            f"{sorted(MODEL_DEFAULTS)}")
        self.model_config = {**MODEL_DEFAULTS, **model_kwargs}
        CSDIModel.check_arguments(target_dim=num_features or 1, scaling=scaling, mask_strategy="random",
                                  **self.model_config)
        checks.one_of(device, "device", ("cpu", "cuda", "auto"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.num_features = num_features
        self.scaling = scaling
        self.device = torch.device(device)
        self.scaler: Optional[Standardiser] = None
        self.model: Optional[CSDIModel] = None
        self.history: list = []

    def config(self) -> dict:
        """Everything needed to rebuild the model (JSON-able)."""
        return dict(num_features=self.num_features, scaling=self.scaling, model_config=self.model_config,
                    scaler=None if self.scaler is None else dict(mean=self.scaler.mean, std=self.scaler.std),
                    model_kwargs=None if self.model is None else self._model_kwargs)

    def _build(self, model_kwargs: dict) -> None:
        self._model_kwargs = model_kwargs
        self.model = CSDIModel(**model_kwargs).to(self.device)

    # -- training --------------------------------------------------------------------------------------------------
    def fit(
        self,
        values,
        observed_mask,
        epochs: int = 200,
        batch_size: int = 16,
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        lr_schedule: str = "multistep",
        lr_milestones: Sequence[float] = (0.75, 0.9),
        mask_strategy: str = "random",
        prediction_length: Optional[int] = None,
        num_sample_features: Optional[int] = None,
        num_feat_dynamic_real: int = 0,
        valid=None,
        seed: int = 0,
        progress: bool = True,
        max_seconds: Optional[float] = None,
        callback: Optional[Callable[["CSDIImputer", dict], None]] = None,
        trainer_kwargs: Optional[dict] = None,
        checkpoint_dir=None,
        resume: bool = False,
        num_batches: Optional[int] = None,
        ema_decay: Optional[float] = None,
    ) -> "CSDIImputer":
        """Train with CSDI's recipe: Adam(lr, weight decay 1e-6), lr × 0.1 at 75 % and 90 % of the epochs.

        Args:
            values, observed_mask: (N, L, K); values may be NaN where not observed.
            epochs, batch_size, lr: CSDI: 200, 16, 1e-3.
            mask_strategy: one of :data:`~tsdiff.models.csdi.masks.STRATEGIES` (the forecast ones need
                ``prediction_length``).
            num_sample_features: train on this many random features per window when K is larger.
            num_feat_dynamic_real: the last this many features are covariates, given wherever observed (never
                hidden by the training mask, never imputed); give them in ``observed_mask`` at :meth:`impute`.
            valid: optional ``(values, observed_mask)``; its ε-loss (same strategy, fixed generator) is recorded per
                epoch.
            seed: seeds initialisation, batch order, masks, noise and dropout; torch's global RNG is restored after.
            progress: Lightning's progress bar.
            max_seconds: stop after the batch during which this much training wall time has passed (time spent in
                ``callback`` does not count).
            callback: called as ``callback(imputer, record)`` after every epoch, with the model in eval mode (e.g.
                to score imputations along training); training resumes afterwards.
            num_batches: train for exactly this many batches (a budget that reproduces on any machine, unlike
                ``max_seconds``), passing over the windows as often as needed; ``epochs`` is then ignored and the
                ``"multistep"`` lr drops at ``lr_milestones`` fractions of the batches.
            ema_decay: keep a moving average of the weights (e.g. 0.999, :mod:`tsdiff.nn.ema`) and sample with it:
                after ``fit``, :attr:`model` holds the averaged weights (and a further fit continues from them);
                ``None``: the trained weights.
            trainer_kwargs: more ``lightning.Trainer`` arguments (precision, callbacks, ...).
            checkpoint_dir: write a checkpoint there at the end of every epoch (``resume.ckpt``, and ``fit.json``
                recording which fit it belongs to); checked before any work. Only for a fresh imputer's first fit.
            resume: continue from the checkpoint in ``checkpoint_dir`` if there is one (a fit killed mid-way ends
                with the same weights and history as an uninterrupted one on the same device); without a checkpoint
                there, start from scratch. A checkpoint of other data or settings is refused, and so is an existing
                checkpoint when ``resume`` is False.
        Returns:
            self.
        """
        checks.one_of(mask_strategy, "mask_strategy", STRATEGIES)
        checks.positive_int(epochs, "epochs")
        checks.positive_int(batch_size, "batch_size")
        checks.optional_positive_int(num_batches, "num_batches")
        CSDILightningModule.check_arguments(lr, weight_decay, lr_schedule, tuple(lr_milestones), ema_decay)
        checkpoint_dir = check_checkpoint_dir(checkpoint_dir, resume)
        if checkpoint_dir is not None and self.model is not None:
            raise ValueError("checkpoint_dir is for a fresh imputer's first fit; this one is already trained")
        values, observed_mask = _check_windows(values, observed_mask)
        N, L, K = values.shape
        if mask_strategy.startswith("forecast") and (prediction_length is None or not 0 < prediction_length < L):
            raise ValueError(f"mask_strategy={mask_strategy!r} needs 0 < prediction_length < L={L}, "
                             f"got {prediction_length}")
        if self.num_features is not None and K > self.num_features:
            raise ValueError(f"data has {K} features, the imputer was built for {self.num_features}")
        if self.scaler is None:
            self.scaler = Standardiser.fit(values.reshape(-1, K).numpy(), observed_mask.reshape(-1, K).numpy()) \
                if self.scaling == "global" else Standardiser((0.0,) * K, (1.0,) * K)
        valid_batches, valid_arrays = None, (None, None)
        if valid is not None:
            valid_arrays = _check_windows(*valid)
            valid_batches = _window_batches(*valid_arrays, batch_size, shuffle=False)
        ckpt_path = None
        if checkpoint_dir is not None:
            identity = fingerprint(
                values, observed_mask, *valid_arrays, model=type(self).__name__, num_features=self.num_features,
                scaling=self.scaling, model_config=self.model_config, epochs=epochs, batch_size=batch_size, lr=lr,
                weight_decay=weight_decay, lr_schedule=lr_schedule, lr_milestones=list(lr_milestones),
                mask_strategy=mask_strategy, prediction_length=prediction_length,
                num_sample_features=num_sample_features, seed=seed, num_batches=num_batches,
                ema_decay=ema_decay,
                **({"num_feat_dynamic_real": num_feat_dynamic_real} if num_feat_dynamic_real else {}))
            ckpt_path = prepare_checkpoint_dir(checkpoint_dir, resume, identity)

        with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory(prefix="tsdiff-csdi-") as workdir:
            torch.manual_seed(seed)
            if self.model is None:
                self.num_features = self.num_features or K
                self._build(dict(
                    target_dim=self.num_features, prediction_length=prediction_length, mask_strategy=mask_strategy,
                    scaling=self.scaling, scaler_mean=list(self.scaler.mean), scaler_std=list(self.scaler.std),
                    num_sample_features=num_sample_features, num_feat_dynamic_real=num_feat_dynamic_real,
                    **self.model_config))
            else:  # training resumes; the strategy may change
                self.model.mask_strategy, self.model.prediction_length = mask_strategy, prediction_length
                self.model.num_sample_features = num_sample_features
            module = CSDILightningModule(model_kwargs=self._model_kwargs, lr=lr, weight_decay=weight_decay,
                                         lr_schedule=lr_schedule, lr_milestones=tuple(lr_milestones),
                                         model=self.model, ema_decay=ema_decay)
            log = _EpochLog(self, max_seconds, callback)
            extra = dict(trainer_kwargs or {})
            if num_batches is not None:  # a step budget: as many passes as it takes, the last one cut short
                epochs = math.ceil(num_batches / math.ceil(N / batch_size))
                extra.setdefault("max_steps", num_batches)
            saving = [] if checkpoint_dir is None else checkpoint_callbacks(checkpoint_dir)
            extra["callbacks"] = [log, ResumeState()] + saving + list(extra.get("callbacks", []))
            device = "cpu" if self.device.type == "cpu" else "cuda"
            with quiet_lightning(verbose=progress):
                trainer = pl.Trainer(**recipe.trainer_kwargs(epochs, device=device, progress=progress,
                                                             workdir=workdir, enable_checkpointing=bool(saving),
                                                             **extra))
                trainer.fit(module, train_dataloaders=_window_batches(values, observed_mask, batch_size, True),
                            val_dataloaders=valid_batches, ckpt_path=ckpt_path)
        self.model = module.sampling_model.to(self.device).eval()  # the moving average when there is one
        return self

    # -- sampling --------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def impute(
        self,
        values,
        observed_mask,
        num_samples: int = 100,
        sampling: Optional[SamplingOptions] = None,
        sampler: Optional[str] = None,
        sampling_steps: Optional[int] = None,
        eta: Optional[float] = None,
        seed: Optional[int] = None,
        batch_size: Optional[int] = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """Sample the values that are not in ``observed_mask``.

        Args:
            values, observed_mask: (N, L, K); ``observed_mask`` = what the model is given (e.g. observed minus
                evaluation targets); other entries of ``values`` are ignored.
            num_samples: S.
            sampling, sampler, sampling_steps, eta: the reverse process (fields over ``sampling`` over the model's
                defaults; see :class:`~tsdiff.diffusion.SamplingOptions`).
            seed: seeds a private ``torch.Generator`` (None: the global RNG).
            batch_size: at most this many windows per chunk (default: all N); all S samples of a chunk go through
                the network together at each step (batch S × chunk). Chunks are made smaller when the call would
                not fit in memory (see :mod:`tsdiff.models.base.memory`; a call that fits is never split).
            progress: a progress bar over windows × steps on stderr, and a notice first when the call is large.
        Returns:
            (S, N, L, K) tensor in the original units; entries where ``observed_mask`` is 1 equal ``values``.
        """
        if self.model is None:
            raise RuntimeError("call fit() or load() first")
        raw, mask = _check_windows(values, observed_mask)
        if raw.shape[2] > self.num_features:
            raise ValueError(f"data has {raw.shape[2]} features, the imputer was built for {self.num_features}")
        options = SamplingOptions.for_call(self.model.default_sampling, self.model.diffusion.num_diffusion_steps,
                                           sampling, sampler=sampler, sampling_steps=sampling_steps, eta=eta)
        num_samples = self.model.num_parallel_samples if num_samples is None else num_samples
        checks.positive_int(num_samples, "num_samples")
        checks.optional_positive_int(batch_size, "batch_size")
        generator = None if seed is None else torch.Generator(device=self.device).manual_seed(seed)
        self.model.eval()
        drawn = impute_in_chunks(self.model, raw, mask, num_samples, generator, options, self.device,
                                 max_windows=batch_size, progress=progress)
        return torch.where(mask > 0, raw, drawn)  # given values bit-exact

    # -- persistence -----------------------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Save config, scaler and weights to ``path`` (one ``.npz`` file; loading never unpickles)."""
        if self.model is None:
            raise RuntimeError("nothing to save: the imputer has not been fitted")
        recipe.save_weights(path, self.model, self.config())

    @classmethod
    def load(cls, path, device: str = "cpu") -> "CSDIImputer":
        """Inverse of :meth:`save`; the weights are mapped to ``device``."""
        config, state = recipe.load_weights(path)
        imp = cls(num_features=config["num_features"], scaling=config["scaling"], device=device,
                  **config["model_config"])
        if config["scaler"] is not None:
            imp.scaler = Standardiser(tuple(config["scaler"]["mean"]), tuple(config["scaler"]["std"]))
        imp._build(config["model_kwargs"])
        imp.model.load_state_dict(state)
        imp.model.eval()
        return imp
