"""CSDI sampling in chunks that fit in memory, with a word before large work and a progress bar over it.

:func:`impute_in_chunks` splits the windows (then, if one window is still too much, the samples) of an
imputation into the largest chunks the memory budget allows (:func:`tsdiff.models.base.memory.plan_chunks`, with
:func:`~tsdiff.models.csdi.memory.csdi_sampling_memory_for` as the estimate). A call that fits runs as one chunk,
exactly as an unsplit call. With ``progress``, a bar on stderr counts window-steps (windows × reverse steps, a
window's step counted when all its samples have taken it), and a call estimated to be large is announced first
with its size, estimated memory and arithmetic.
"""
from __future__ import annotations

import sys
from typing import Optional

import torch
from tqdm.auto import tqdm

from tsdiff.diffusion import SamplingOptions, make_sampler

from ..base.memory import human_bytes, plan_chunks
from .memory import csdi_sampling_memory_for
from .module import CSDIModel

#: Calls above this many multiply-adds (about a minute on one CPU core) or this much memory are announced.
LARGE_WORK_MACS = 5e11
LARGE_WORK_BYTES = 2e9


def sampling_macs(model: CSDIModel, windows: int, samples: int, length: int, features: int, steps: int) -> float:
    """Multiply-adds of the denoiser over a whole call (dense layers and attention; a rough count for notices)."""
    den = model.denoiser
    C, R = den.residual_channels, len(den.blocks)
    ff = den.blocks[0].time_layer.layer.linear1.out_features
    transformer = lambda seq: 4 * C * C + 2 * C * ff + 2 * seq * C  # noqa: E731  (projections, FF, attention)
    per_cell = R * (transformer(length) + (transformer(features) if features > 1 else 0) + 4 * C * C) + C * C
    return float(per_cell) * windows * samples * length * features * steps


class _StepCounter:
    """Advances a bar by window-steps as the denoiser's last residual layer sees rows of the S·N batch."""

    def __init__(self, bar, samples: int):
        self.bar, self.samples, self.rows = bar, samples, 0

    def __call__(self, module, args, output) -> None:
        self.rows += args[0].shape[0]
        done = self.rows // self.samples  # window-steps whose samples have all been through
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)


def impute_in_chunks(model: CSDIModel, values: torch.Tensor, mask: torch.Tensor, num_samples: int,
                     generator: Optional[torch.Generator], options: SamplingOptions, device: torch.device,
                     max_windows: Optional[int] = None, progress: bool = False,
                     what: str = "sampling") -> torch.Tensor:
    """``model.impute`` over (N, L, K) ``values``/``mask`` (on the CPU) in chunks that fit: (S, N, L, K) on the CPU.

    ``max_windows`` caps the windows per chunk (the caller's batch size). Raises
    :class:`~tsdiff.models.base.memory.SamplingMemoryError` before any work if the samples cannot be held.
    """
    N, L, K = values.shape
    S = num_samples
    cost = lambda n, s: csdi_sampling_memory_for(model, n, s, L, K)  # noqa: E731
    windows, samples = plan_chunks(cost, min(max_windows or N, N), S, output_values=S * N * L * K, device=device,
                                   what=f"CSDI {what}")
    steps = len(make_sampler(model.diffusion, options).timesteps)
    bar = tqdm(total=N * steps, desc=f"CSDI {what}", unit=" window-step", disable=not progress, leave=False,
               file=sys.stderr)
    if progress:
        macs = sampling_macs(model, N, S, L, K, steps)
        peak = cost(windows, samples)
        if macs > LARGE_WORK_MACS or peak > LARGE_WORK_BYTES:
            split = "" if (windows, samples) == (N, S) else f", in chunks of {windows} windows × {samples} samples"
            bar.write(f"CSDI {what}: {N} windows × {S} samples × {steps} steps ({macs:.2g} multiply-adds{split}); "
                      f"estimated peak memory {human_bytes(peak)}. This takes a while: the bar shows the rate and "
                      "time left; fewer samples or sampler='dpm-solver++' with few sampling_steps are faster.",
                      file=sys.stderr)
    hook = model.denoiser.blocks[-1].register_forward_hook(_StepCounter(bar, S)) if progress else None
    try:
        chunks = []
        for i in range(0, N, windows):
            v, m = values[i:i + windows].to(device), mask[i:i + windows].to(device)
            parts = [model.impute(v, m, num_samples=min(samples, S - j), generator=generator, sampling=options).cpu()
                     for j in range(0, S, samples)]
            chunks.append(parts[0] if len(parts) == 1 else torch.cat(parts, dim=0))
    finally:
        if hook is not None:
            hook.remove()
        bar.close()
    return chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=1)
