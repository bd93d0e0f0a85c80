"""Bounded memory for sampling: estimate what a call needs, split it into chunks that fit, or refuse it up front.

Sampling puts every window × sample of a call through the network together, so its memory grows with
``num_samples × windows``; a call too large for the machine used to fail deep inside torch (``num_samples=10**9``
asked for tens of GB in one allocation). Each family registers an estimate of the peak memory of one sampling call
(:func:`register_sampling_memory`, see ``tsdiff/models/*/memory.py``); :func:`plan_chunks` then picks the largest
chunks that fit the budget (:func:`memory_budget`), or raises :class:`SamplingMemoryError` naming ``num_samples``
when even the samples themselves cannot be held.

Reproducibility: a call that fits is never split, so its samples are exactly those of an unsplit call. A split call
draws the same distribution, but its samples differ from an unsplit one's (noise is drawn chunk by chunk) and so
depend on the budget; set ``TSDIFF_MEMORY_BUDGET`` (e.g. ``"8GB"``) to make the split the same on every machine.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Optional

import torch

#: Share of the memory available at call time that sampling may use (the estimates are of tensors only; the
#: allocator, Python objects and the caller's own data need the rest).
BUDGET_SHARE = 0.5
#: Bytes kept per sampled value by the front ends: the float32 chunks, their concatenation, the copy that puts the
#: given values back, and the pandas API's float64 copy.
OUTPUT_BYTES_PER_VALUE = 24
_UNITS = {"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30,
          "TIB": 2**40}

_ESTIMATES: dict = {}


class SamplingMemoryError(MemoryError, ValueError):
    """A sampling call cannot fit in the memory available, however it is split (raised before any work)."""


def register_sampling_memory(model_class) -> Callable:
    """Decorator: ``fn(model, windows, samples) -> bytes`` estimates the peak memory of one sampling call of
    ``model_class`` (its forward over ``windows`` windows with ``num_samples=samples``), outputs included."""
    def decorate(fn):
        _ESTIMATES[model_class] = fn
        return fn
    return decorate


def sampling_memory(model, windows: int, samples: int) -> Optional[int]:
    """The registered estimate for ``model`` (bytes), or None if its family registered none."""
    for cls in type(model).__mro__:
        if cls in _ESTIMATES:
            estimate = _ESTIMATES[cls](model, windows, samples)
            return None if estimate is None else int(estimate)
    return None


def human_bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def parse_bytes(text: str) -> int:
    """``"8GB"``, ``"512 MiB"``, ``"1e9"`` → bytes; ValueError otherwise."""
    match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", str(text))
    unit = match.group(2).upper() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"TSDIFF_MEMORY_BUDGET must be a size such as '8GB' or '512MiB', got {text!r}")
    try:
        value = float(match.group(1)) * _UNITS[unit]
    except ValueError:
        raise ValueError(f"TSDIFF_MEMORY_BUDGET must be a size such as '8GB' or '512MiB', got {text!r}") from None
    if not value > 0:
        raise ValueError(f"TSDIFF_MEMORY_BUDGET must be positive, got {text!r}")
    return int(value)


def _meminfo_available() -> Optional[int]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # other POSIX systems: free physical pages
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_headroom() -> Optional[int]:
    """What a container's memory limit still allows (cgroup v2, then v1), if there is a limit."""
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            cap = Path(limit).read_text().strip()
            if cap == "max" or int(cap) >= 2**60:
                return None
            return max(int(cap) - int(Path(usage).read_text().strip()), 0)
        except (OSError, ValueError):
            continue
    return None


def available_memory(device=None) -> Optional[int]:
    """Bytes that can still be allocated on ``device`` (CPU: the system's available memory, within a container's
    limit; CUDA: free device memory plus what torch's cache holds unused); None if unknown."""
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    if device.type != "cpu":
        return None
    found = [n for n in (_meminfo_available(), _cgroup_headroom()) if n is not None]
    return min(found) if found else None


def memory_budget(device=None) -> Optional[int]:
    """Bytes a sampling call may use on ``device``: ``TSDIFF_MEMORY_BUDGET`` if set, else :data:`BUDGET_SHARE` of
    :func:`available_memory` (None: unknown, no limit applied)."""
    text = os.environ.get("TSDIFF_MEMORY_BUDGET")
    if text:
        return parse_bytes(text)
    available = available_memory(device)
    return None if available is None else int(available * BUDGET_SHARE)


def plan_chunks(cost: Callable[[int, int], Optional[int]], windows: int, samples: int, output_values: int,
                device=None, what: str = "sampling", split_windows: bool = True) -> tuple[int, int]:
    """The largest (windows per chunk, samples per chunk) whose estimated ``cost`` fits the budget.

    Args:
        cost: ``cost(windows, samples)`` → estimated peak bytes of one call on ``device`` (None: unknown).
        windows, samples: the whole call.
        output_values: number of sampled values the call returns (kept in host memory, however it is split).
        split_windows: False when the caller cannot split its windows (only samples are then split).
    Returns:
        ``(windows, samples)`` unchanged when the call fits (or nothing is known); else windows are split first,
        then samples.
    Raises:
        SamplingMemoryError: the samples alone, or one sample of one window, exceed the budget.
    """
    host_budget = memory_budget("cpu")
    output_bytes = output_values * OUTPUT_BYTES_PER_VALUE
    if host_budget is not None and output_bytes > host_budget:
        per_sample = output_bytes / samples
        fit = int(host_budget // per_sample)
        raise SamplingMemoryError(
            f"{what}: num_samples={samples} needs about {human_bytes(output_bytes)} just to hold the samples, more "
            f"than the {human_bytes(host_budget)} this machine can spare; lower num_samples (at most about {fit} "
            "fit), or set TSDIFF_MEMORY_BUDGET if more memory is really available")
    budget = memory_budget(device)
    device_share = 0 if torch.device("cpu" if device is None else device).type != "cpu" else output_bytes
    whole = cost(windows, samples)
    if budget is None or whole is None or whole + device_share <= budget:
        return windows, samples

    def fits(n: int, s: int) -> bool:
        return cost(n, s) + device_share <= budget

    def largest(lo: int, hi: int, ok) -> int:  # largest k in [lo, hi] with ok(k), given ok is monotone; lo-1 if none
        best = lo - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            if ok(mid):
                best, lo = mid, mid + 1
            else:
                hi = mid - 1
        return best

    n = largest(1, windows, lambda k: fits(k, samples)) if split_windows else 0
    if n >= 1:
        return n, samples
    n = 1 if split_windows else windows
    s = largest(1, samples, lambda k: fits(n, k))
    if s >= 1:
        return n, s
    raise SamplingMemoryError(
        f"{what}: one sample of {n} window(s) needs about {human_bytes(cost(n, 1))}, more than the "
        f"{human_bytes(budget)} available on {torch.device('cpu' if device is None else device)}; use a smaller "
        "model, window or batch, or set TSDIFF_MEMORY_BUDGET if more memory is really available")
