"""PhysioNet/CinC Challenge 2012 (set-a) as the CSDI imputation benchmark (Tashiro et al., NeurIPS 2021).

Protocol, as in CSDI's reference implementation (``dataset_physio.py``):

* 4000 ICU stays (every ``set-a/<RecordID>.txt``), ordered by RecordID.
* 48 hourly steps: a record at ``HH:MM`` goes to hour bin ``HH``; records at hour 48 or later are dropped; when a
  variable is recorded several times in one hour the *last* one (file order) is kept.
* The 35 time-varying variables of :data:`PHYSIONET_FEATURES` (the static descriptors RecordID, Age, Gender,
  Height, ICUType, Weight are not used; Weight is also time-varying but CSDI leaves it out too).
* Evaluation targets: with a legacy ``np.random.RandomState(seed)`` drawn stay by stay in RecordID order, each
  stay hides ``int(n_observed * missing_ratio)`` of its observed values (truncation, not rounding, as CSDI).
  Given the same seed the masks are the ones CSDI's code draws.
* z-normalisation per variable with mean and (population, ddof=0) std of *all observed values of all 4000 stays*,
  evaluation targets and test stays included. This is what CSDI does (and BRITS before it), although it leaks test
  statistics; ``stats="train"`` uses the training stays' observed, non-target values instead (a deviation).
* Stays (``stays="csdi"``, the default): the 3 stays with no value in any of the 35 variables (RecordIDs 140501,
  140936, 141264) are dropped before the split, N = 3997. CSDI's released code drops them by accident under every
  numpy version: its per-stay target draw ``np.random.choice(obs_indices, 0)`` on an empty list raises "a must be
  non-empty" before numpy 1.15, and from 1.15 on returns an empty *float* array whose use as an index raises
  IndexError (non-integer index arrays are errors since numpy 1.12); its ``try/except`` then skips the stay. So the
  published numbers were made on 3997 stays (799 test stays), and this is the default. ``stays="all"`` keeps all
  4000 (tsdiff's split before this option existed: 800 test stays; with seed 1, 453 of them are among CSDI's 799).
  The targets of every stay are the same under both (an empty stay draws nothing from the random stream); only the
  split differs.
* Split: ``RandomState(seed).shuffle(arange(N))``; fold ``f`` of 5 is test (``[int(0.2 f N), int(0.2 (f+1) N))``,
  799 stays); the rest is shuffled again with a fresh ``RandomState(seed)`` and its first ``int(0.7 N)`` = 2797
  stays are train, the remaining 401 valid (70/10/20 % of all stays; not 95/5 of the remainder). With
  ``stays="all"``: 2800 / 400 / 800.
"""
from __future__ import annotations

import os
import re
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from tsdiff.data.imputation.base import ImputationData
from tsdiff.data.storage import RemoteFile, cache_dir, fetch

PHYSIONET_SET_A = RemoteFile(
    "physionet2012",
    "set-a.tar.gz",
    "d94dd034a628ac927d73244624d04ef52262c3ebbcd782c22a1a330e99620c59",
    ("https://physionet.org/files/challenge-2012/1.0.0/set-a.tar.gz",),
)
PHYSIONET_OUTCOMES_A = RemoteFile(
    "physionet2012",
    "Outcomes-a.txt",
    "2613ea60ccda29f87571a7d6b09ad130858a8ccd66325bd073365925026883c2",
    ("https://physionet.org/files/challenge-2012/1.0.0/Outcomes-a.txt",),
)

# CSDI's attribute list, in CSDI's order (the feature axis follows it).
PHYSIONET_FEATURES: tuple[str, ...] = (
    "DiasABP", "HR", "Na", "Lactate", "NIDiasABP", "PaO2", "WBC", "pH", "Albumin", "ALT", "Glucose", "SaO2",
    "Temp", "AST", "Bilirubin", "HCO3", "BUN", "RespRate", "Mg", "HCT", "SysABP", "FiO2", "K", "GCS",
    "Cholesterol", "NISysABP", "TroponinT", "MAP", "TroponinI", "PaCO2", "Platelets", "Urine", "NIMAP",
    "Creatinine", "ALP",
)  # fmt: skip
assert len(PHYSIONET_FEATURES) == 35 and len(set(PHYSIONET_FEATURES)) == 35

PHYSIONET_HOURS = 48
PHYSIONET_STAYS = ("csdi", "all")
_PARSER_VERSION = 1  # bump when _parse_tar changes, so stale caches are not reused
_ID_RE = re.compile(r"(\d{6})")  # CSDI takes the 6-digit RecordID from the file name


def _parse_stay(text: str, index: dict[str, int]) -> np.ndarray:
    """One stay's ``Time,Parameter,Value`` lines -> ``(48, 35)`` float64, NaN where nothing was recorded."""
    out = np.full((PHYSIONET_HOURS, len(index)), np.nan)
    for line in text.splitlines()[1:]:  # first line is the header
        parts = line.split(",")
        if len(parts) < 3:
            continue
        k = index.get(parts[1])
        if k is None:
            continue
        hour = int(parts[0].split(":", 1)[0])
        if hour < PHYSIONET_HOURS:
            value = parts[2].strip()
            out[hour, k] = float(value) if value else np.nan  # later lines overwrite: last value in the hour wins
    return out


def _parse_tar(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """All stays of the tarball: ``(values (N, 48, 35) float64 with NaN, record_ids (N,) int64)``, by RecordID."""
    index = {name: k for k, name in enumerate(PHYSIONET_FEATURES)}
    stays: dict[str, np.ndarray] = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:  # streaming: one pass over the gzip stream
            if not member.isfile() or not member.name.endswith(".txt"):
                continue
            match = _ID_RE.search(os.path.basename(member.name))
            if match is None:
                continue
            fh = tar.extractfile(member)
            assert fh is not None
            stays[match.group(1)] = _parse_stay(fh.read().decode("utf-8"), index)
    ids = sorted(stays)  # CSDI sorts the id strings; all have 6 digits, so this is numeric order
    return np.stack([stays[i] for i in ids]), np.array(ids, dtype=np.int64)


def physionet_raw(root: str | os.PathLike | None = None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Unnormalised hourly PhysioNet grid: ``(values (4000, 48, 35) float64, NaN = missing; record_ids (4000,))``.

    The tarball is parsed once; the result is cached as npz in ``cache_dir("physionet2012")`` keyed by its sha256.
    """
    path = fetch(PHYSIONET_SET_A, root=root, download=download)
    cached = cache_dir("physionet2012") / f"set-a-{PHYSIONET_SET_A.sha256[:16]}-v{_PARSER_VERSION}.npz"
    if cached.exists():
        try:
            with np.load(cached) as npz:
                return npz["values"], npz["record_ids"]
        except Exception:  # a truncated/corrupt cache file: fall through and rebuild it
            pass
    values, ids = _parse_tar(path)
    # write to a temporary file and rename, so concurrent readers never see a half-written cache
    with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".npz", delete=False) as tmp:
        np.savez_compressed(tmp, values=values, record_ids=ids)
    os.chmod(tmp.name, 0o644)  # NamedTemporaryFile creates 0600; the cache is as readable as the data
    os.replace(tmp.name, cached)
    return values, ids


def _eval_masks(observed: np.ndarray, missing_ratio: float, seed: int) -> np.ndarray:
    """CSDI's per-stay target draw: ``(N, L, K)`` bool, ``int(n_obs * ratio)`` observed cells per stay."""
    rng = np.random.RandomState(seed)  # legacy generator: the same stream as CSDI's np.random.seed/choice
    eval_mask = np.zeros(observed.shape, dtype=bool)
    flat_obs = observed.reshape(len(observed), -1)
    flat_eval = eval_mask.reshape(len(observed), -1)
    for i in range(len(observed)):
        obs_idx = np.flatnonzero(flat_obs[i])
        chosen = rng.choice(obs_idx, int(len(obs_idx) * missing_ratio), replace=False)
        flat_eval[i, chosen] = True
    return eval_mask


def physionet_split_indices(n: int, seed: int = 0, fold: int = 0) -> dict[str, np.ndarray]:
    """CSDI's split of ``n`` stays: indices of ``train`` (70 %), ``valid`` (10 %), ``test`` (fold ``fold``, 20 %)."""
    if not 0 <= fold < 5:
        raise ValueError(f"fold must be in 0..4 (5-fold cross-validation), got {fold}")
    order = np.arange(n)
    np.random.RandomState(seed).shuffle(order)
    start, end = int(fold * 0.2 * n), int((fold + 1) * 0.2 * n)
    test = order[start:end]
    remain = np.delete(order, np.arange(start, end))
    np.random.RandomState(seed).shuffle(remain)  # CSDI re-seeds before the second shuffle
    num_train = int(n * 0.7)
    return {"train": remain[:num_train], "valid": remain[num_train:], "test": test}


def load_physionet(
    missing_ratio: float = 0.1,
    seed: int = 0,
    fold: int = 0,
    root: str | os.PathLike | None = None,
    stats: str = "all",
    download: bool = True,
    stays: str = "csdi",
) -> dict[str, ImputationData]:
    """PhysioNet 2012 imputation benchmark as in CSDI (see the module docstring for the protocol).

    Args:
        missing_ratio: fraction of each stay's observed values hidden as evaluation targets (CSDI: 0.1, 0.5, 0.9).
        seed: seeds both the target draw and the split (CSDI uses one seed for both; its scripts default to 1).
        fold: which fifth of the shuffled stays is the test set (0..4).
        root: data root holding ``physionet2012/set-a.tar.gz`` (default ``$TSDIFF_DATA``).
        stats: ``"all"`` (CSDI: mean/std over all observed values of all stays) or ``"train"`` (training stays'
            observed non-target values only).
        download: fetch the tarball from PhysioNet if it is missing.
        stays: ``"csdi"`` (drop the 3 stays without any value before splitting, as CSDI's released code and so its
            published numbers; 2797/401/799 stays) or ``"all"`` (all 4000; 2800/400/800).

    Returns:
        ``{"train", "valid", "test"}`` -> :class:`ImputationData` with arrays ``(N, 48, 35)``, ``ids`` = RecordIDs,
        ``starts = None``; ``given_mask = observed & ~eval`` exactly; ``info["stays"]`` names the split.
    """
    if not 0.0 < missing_ratio < 1.0:
        raise ValueError(f"missing_ratio must be in (0, 1), got {missing_ratio}")
    if stats not in ("all", "train"):
        raise ValueError(f"stats must be 'all' or 'train', got {stats!r}")
    if stays not in PHYSIONET_STAYS:
        raise ValueError(f"stays must be one of {PHYSIONET_STAYS}, got {stays!r}")
    raw, record_ids = physionet_raw(root, download=download)
    observed = ~np.isnan(raw)
    eval_mask = _eval_masks(observed, missing_ratio, seed)  # before dropping: an empty stay draws nothing
    if stays == "csdi":
        kept = observed.reshape(len(raw), -1).any(axis=1)
        raw, record_ids, observed, eval_mask = raw[kept], record_ids[kept], observed[kept], eval_mask[kept]
    splits = physionet_split_indices(len(raw), seed, fold)

    stat_mask = observed if stats == "all" else np.zeros_like(observed)
    if stats == "train":
        stat_mask[splits["train"]] = observed[splits["train"]] & ~eval_mask[splits["train"]]
    flat, flat_mask = raw.reshape(-1, raw.shape[-1]), stat_mask.reshape(-1, raw.shape[-1])
    mean = np.array([flat[flat_mask[:, k], k].mean() for k in range(raw.shape[-1])])
    std = np.array([flat[flat_mask[:, k], k].std() for k in range(raw.shape[-1])])  # ddof=0 as np.std in CSDI
    values = np.where(observed, (raw - mean) / std, 0.0).astype(np.float32)

    out = {}
    for split, idx in splits.items():
        out[split] = ImputationData(
            values=values[idx],
            observed_mask=observed[idx],
            eval_mask=eval_mask[idx],
            given_mask=observed[idx] & ~eval_mask[idx],
            split=split,
            mean=mean,
            std=std,
            feature_names=PHYSIONET_FEATURES,
            ids=record_ids[idx],
            info={"dataset": "physionet2012", "missing_ratio": missing_ratio, "seed": seed, "fold": fold,
                  "stats": stats, "stays": stays},
        )
    return out
