"""Tensor-level CSDI imputer: ``fit`` on partially observed grids, ``impute`` samples of the missing values.

Layout of everything user-facing here: ``values`` and ``observed_mask`` are ``(N, L, K)`` = samples × time ×
features (NaN allowed where not observed); ``impute`` returns ``(num_samples, N, L, K)``. Internally the model works
on (N, K, L).

>>> imp = CSDIImputer(channels=64).fit(values, observed_mask, epochs=200)            # doctest: +SKIP
>>> samples = imp.impute(values, observed_mask - eval_mask, num_samples=100, seed=0)  # doctest: +SKIP
>>> median = samples.median(dim=0).values                                            # doctest: +SKIP
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from tsdiff.nn import checks

from .masks import STRATEGIES, make_cond_mask, sample_features
from .module import CSDIModel

MODEL_DEFAULTS = dict(
    channels=64,
    layers=4,
    heads=8,
    step_embedding_dim=128,
    time_embedding_dim=128,
    feature_embedding_dim=16,
    dim_feedforward=64,
    dropout=0.1,
    schedule_kind="quad",
    num_steps=50,
    beta_start=1e-4,
    beta_end=0.5,
)


def _as_tensor(x, dtype=torch.float32) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(dtype)


def _check_grid(values, observed_mask):
    values, observed_mask = _as_tensor(values), _as_tensor(observed_mask)
    if values.dim() != 3:
        raise ValueError(f"values must have shape (N, L, K), got {tuple(values.shape)}")
    if observed_mask.shape != values.shape:
        raise ValueError(f"observed_mask shape {tuple(observed_mask.shape)} != values shape {tuple(values.shape)}")
    if min(values.shape) < 1:
        raise ValueError(f"empty grid {tuple(values.shape)}")
    observed_mask = (observed_mask > 0).float() * torch.isfinite(values).float()
    values = torch.where(observed_mask > 0, values, torch.zeros_like(values))
    return values, observed_mask


class CSDIImputer:
    """CSDI imputation on (N, L, K) grids with a plain, CPU-deterministic training loop.

    Args:
        num_features: K; inferred at the first :meth:`fit` when None.
        normalize: standardise each feature with the mean/std of its observed training values (as CSDI does);
            samples are returned in the original units.
        device: torch device for training and sampling.
        **model_kwargs: overrides of :data:`MODEL_DEFAULTS` (CSDI's defaults: 4 layers, 64 channels, 8 heads,
            embeddings 128/128/16, quad schedule 1e-4 → 0.5 over 50 steps).
    Attributes:
        model: the :class:`CSDIModel` (after fit/load); history: per-epoch ``{"epoch", "loss", "valid_loss",
            "seconds"}`` (seconds: training wall time so far).
    """

    def __init__(self, num_features: Optional[int] = None, normalize: bool = True, device: str = "cpu", **model_kwargs):
        unknown = set(model_kwargs) - set(MODEL_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown model arguments {sorted(unknown)}")
        self.model_config = {**MODEL_DEFAULTS, **model_kwargs}
        self.num_features = num_features
        self.normalize = normalize
        self.device = torch.device(device)
        self.mean: Optional[torch.Tensor] = None
        self.std: Optional[torch.Tensor] = None
        self.model: Optional[CSDIModel] = None
        self.history: list = []
        if num_features is not None:
            self._build(num_features)
        else:  # built at fit(), once K is known; check the hyperparameters now
            checks.dry_run_build(lambda: CSDIModel(1, **self.model_config))

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _build(self, num_features: int):
        self.num_features = num_features
        self.model = CSDIModel(num_features, **self.model_config).to(self.device)

    def _to_grid(self, values: torch.Tensor, observed_mask: torch.Tensor):
        """(N, L, K) → standardised (N, K, L) values and mask on the device."""
        if self.normalize and self.mean is not None:
            values = (values - self.mean) / self.std * observed_mask
        return values.transpose(1, 2).to(self.device), observed_mask.transpose(1, 2).to(self.device)

    def config(self) -> dict:
        """Constructor arguments (JSON-able)."""
        return dict(num_features=self.num_features, normalize=self.normalize, **self.model_config)

    # -- training --------------------------------------------------------------------------------------------------
    def fit(
        self,
        values,
        observed_mask,
        epochs: int = 200,
        batch_size: int = 16,
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        lr_milestones: Sequence[float] = (0.75, 0.9),
        mask_strategy: str = "random",
        prediction_length: Optional[int] = None,
        num_sample_features: Optional[int] = None,
        valid=None,
        seed: int = 0,
        progress: bool = True,
        max_seconds: Optional[float] = None,
        callback: Optional[Callable[["CSDIImputer", dict], None]] = None,
    ) -> "CSDIImputer":
        """Train with CSDI's recipe: Adam(lr, weight decay 1e-6), lr × 0.1 at 75 % and 90 % of the epochs.

        Args:
            values, observed_mask: (N, L, K); values may be NaN where not observed.
            epochs, batch_size, lr: CSDI: 200, 16, 1e-3.
            mask_strategy: ``"random"``, ``"historical"``, ``"mix"`` or ``"forecast"`` (with ``prediction_length``).
            num_sample_features: train on this many random features per sample when K is larger.
            valid: optional ``(values, observed_mask)``; its ε-loss (same strategy, fixed seed) is recorded per epoch.
            seed: seeds initialisation, batch order, masks, noise and dropout (CPU runs are reproducible).
            progress: tqdm bar over epochs.
            max_seconds: stop training after the batch during which this much training wall time has passed
                (time spent in ``callback`` does not count).
            callback: called as ``callback(imputer, record)`` after every epoch, with the model in eval mode (e.g.
                to score imputations along training); training resumes afterwards.
        Returns:
            self.
        """
        if mask_strategy not in STRATEGIES:
            raise ValueError(f"unknown mask strategy {mask_strategy!r}; expected one of {STRATEGIES}")
        values, observed_mask = _check_grid(values, observed_mask)
        N, L, K = values.shape
        if mask_strategy.startswith("forecast") and (prediction_length is None or not 0 < prediction_length < L):
            raise ValueError(f"mask_strategy={mask_strategy!r} needs 0 < prediction_length < L={L}, "
                             f"got {prediction_length}")
        if self.num_features is not None and K > self.num_features:
            raise ValueError(f"data has {K} features, the imputer was built for {self.num_features}")
        if self.normalize and self.mean is None:
            count = observed_mask.sum((0, 1))
            mean = values.sum((0, 1)) / count.clamp_min(1)
            var = (((values - mean) * observed_mask) ** 2).sum((0, 1)) / count.clamp_min(1)
            self.mean = torch.where(count > 0, mean, torch.zeros_like(mean))
            std = var.sqrt()
            self.std = torch.where((count > 0) & (std > 0), std, torch.ones_like(std))
        grid, obs = self._to_grid(values, observed_mask)
        valid_grid = None
        if valid is not None:
            valid_grid = self._to_grid(*_check_grid(*valid))

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if self.model is None:
                self._build(K)
            model = self.model
            opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
            milestones = sorted({max(1, int(f * epochs)) for f in lr_milestones})
            sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
            start = time.perf_counter()
            bar = tqdm(range(epochs), desc="CSDI fit", disable=not progress)
            for epoch in bar:
                model.train()
                perm = torch.randperm(N)
                total, count = 0.0, 0
                for i in range(0, N, batch_size):
                    idx = perm[i:i + batch_size].to(self.device)
                    loss = self._batch_loss(grid[idx], obs[idx], mask_strategy, prediction_length,
                                            num_sample_features)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(idx)
                    count += len(idx)
                    if max_seconds is not None and time.perf_counter() - start > max_seconds:
                        break
                sched.step()
                record = {"epoch": epoch + 1, "loss": total / count, "valid_loss": None,
                          "seconds": time.perf_counter() - start}
                if valid_grid is not None:
                    record["valid_loss"] = self._valid_loss(*valid_grid, mask_strategy, prediction_length, batch_size)
                self.history.append(record)
                bar.set_postfix(loss=f"{record['loss']:.4f}")
                if callback is not None:
                    paused = time.perf_counter()
                    model.eval()
                    with torch.random.fork_rng(devices=[]):  # the callback must not change the training stream
                        callback(self, record)
                    start += time.perf_counter() - paused
                if max_seconds is not None and time.perf_counter() - start > max_seconds:
                    break
        model.eval()
        return self

    def _batch_loss(self, values, observed, strategy, prediction_length, num_sample_features, generator=None):
        feature_id = None
        if num_sample_features is not None and values.shape[1] > num_sample_features:
            values, observed, feature_id = sample_features(values, observed, num_sample_features, generator)
        cond = make_cond_mask(strategy, observed, generator, prediction_length)
        if generator is None:
            return self.model.loss(values, observed, cond, feature_id)
        target = observed - cond
        cond_obj = self.model.denoiser.condition(values * cond, cond, feature_id)
        return self.model.diffusion.training_loss(self.model.denoiser, values, cond_obj, mask=target,
                                                  generator=generator)

    @torch.no_grad()
    def _valid_loss(self, values, observed, strategy, prediction_length, batch_size) -> float:
        self.model.eval()
        gen = torch.Generator(device=values.device).manual_seed(12345)
        losses = [
            self._batch_loss(values[i:i + batch_size], observed[i:i + batch_size], strategy, prediction_length,
                             None, gen).item()
            for i in range(0, values.shape[0], batch_size)
        ]
        return float(np.mean(losses))

    # -- sampling --------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def impute(
        self,
        values,
        observed_mask,
        num_samples: int = 100,
        sampler: str = "ddpm",
        num_steps: Optional[int] = None,
        eta: float = 0.0,
        seed: Optional[int] = None,
        batch_size: Optional[int] = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """Sample the values that are not in ``observed_mask``.

        Args:
            values, observed_mask: (N, L, K); ``observed_mask`` = what the model is given (e.g. observed minus
                evaluation targets); other entries of ``values`` are ignored.
            num_samples: S.
            sampler, num_steps, eta: ``"ddpm"`` (all T steps) or ``"ddim"`` with ``num_steps`` ≤ T.
            seed: seeds a private ``torch.Generator`` (None: the global RNG).
            batch_size: number of series per chunk (default: all N); all S samples of a chunk go through the network
                together at each step (batch S × chunk).
            progress: progress bar over steps.
        Returns:
            (S, N, L, K) tensor in the original units; entries where ``observed_mask`` is 1 equal ``values``.
        """
        if self.model is None:
            raise RuntimeError("call fit() or load() first")
        raw, mask = _check_grid(values, observed_mask)
        if raw.shape[2] > self.num_features:
            raise ValueError(f"data has {raw.shape[2]} features, the imputer was built for {self.num_features}")
        grid, cmask = self._to_grid(raw, mask)
        generator = None if seed is None else torch.Generator(device=self.device).manual_seed(seed)
        self.model.eval()
        N = grid.shape[0]
        batch_size = N if batch_size is None else batch_size
        chunks = []
        for i in range(0, N, batch_size):
            s = self.model.impute(grid[i:i + batch_size], cmask[i:i + batch_size], num_samples=num_samples,
                                  sampler=sampler, num_steps=num_steps, eta=eta, generator=generator,
                                  progress=progress)
            chunks.append(s.transpose(2, 3).cpu())  # (S, n, L, K)
        out = torch.cat(chunks, dim=1)
        if self.normalize and self.mean is not None:
            out = out * self.std + self.mean
        return torch.where(mask > 0, raw, out)  # given values bit-exact

    # -- persistence -----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"config", "state_dict", "mean", "std"}`` (loadable with ``torch.load(weights_only=True)``)."""
        if self.model is None:
            raise RuntimeError("nothing to save: the imputer has not been fitted")
        return {"config": self.config(), "state_dict": self.model.state_dict(), "mean": self.mean, "std": self.std}

    def save(self, path) -> None:
        """Save config, weights and normalisation to ``path`` (a single ``torch.save`` file)."""
        torch.save(self.state_dict(), Path(path))

    @classmethod
    def from_state_dict(cls, state: dict, device: str = "cpu") -> "CSDIImputer":
        cfg = dict(state["config"])
        imp = cls(device=device, **cfg)
        imp.model.load_state_dict(state["state_dict"])
        imp.model.eval()
        imp.mean, imp.std = state.get("mean"), state.get("std")
        return imp

    @classmethod
    def load(cls, path, device: str = "cpu") -> "CSDIImputer":
        """Inverse of :meth:`save`."""
        return cls.from_state_dict(torch.load(Path(path), map_location=device, weights_only=True), device=device)
