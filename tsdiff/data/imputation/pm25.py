"""Beijing PM2.5 (STMVL, 36 stations) as the CSDI imputation benchmark (Tashiro et al., NeurIPS 2021).

Protocol, as in CSDI's reference implementation (``dataset_pm25.py`` and its normaliser):

* ``pm25_ground.txt`` holds the data: 8759 hourly rows (2014-05-01 01:00 to 2015-04-30 23:00) x 36 stations;
  ``observed_mask`` = not missing in it. ``pm25_missing.txt`` is the same grid with the evaluation cells (STMVL's
  simulated missing patterns) blanked as well: ``given_mask`` = not missing there (CSDI's ``gt_mask``) and
  ``eval_mask`` = observed but blanked.
* Months (calendar month numbers): test = 3, 6, 9, 12; the other eight, in CSDI's order 1, 2, 4, 5, 7, 8, 10, 11,
  are train except the ``valid_index``-th of them (default 0: January), which is valid.
* Normalisation: per station mean and std (pandas, ddof=1, missing skipped) of the ground data of all non-test
  months, i.e. train *and* valid months, as CSDI's ``pm25_meanstd.pk``.
* Windows of ``window`` (36) hours never cross a month boundary, and are taken in CSDI's month order. Train and
  valid: every start (stride 1). Test: non-overlapping windows from each month's first hour; when the month length
  is not a multiple of the window, one more window ends at the month's last hour, and its first
  ``window - len % window`` hours (already scored by the previous window) are removed from ``eval_mask`` there, as
  CSDI's ``cut_length``. Those cells stay out of ``given_mask`` too, so on them ``given | eval != observed``.
* CSDI trains PM2.5 with historical missing patterns taken only from months 2, 5, 8, 11; ``info["hist_ok"]``
  (``(N,)`` bool) marks those windows.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
import zipfile

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from tsdiff.data.imputation.base import ImputationData
from tsdiff.data.storage import DatasetNotFoundError, RemoteFile, data_root, fetch

# STMVL is published only as one archive by Microsoft Research; no raw URL of the single files is known, so the
# RemoteFiles carry no urls and the loader extracts them from the archive (see _fetch_pm25).
PM25_ARCHIVE_URL = "https://www.microsoft.com/en-us/research/wp-content/uploads/2016/06/STMVL-Release.zip"
PM25_GROUND = RemoteFile(
    "pm25_stmvl", "pm25_ground.txt", "8f77b738ae4c50621705a308e606e6229564ad7ad20358986bd6031355f0ab5f"
)
PM25_MISSING = RemoteFile(
    "pm25_stmvl", "pm25_missing.txt", "3f991eab5bbc5e644e61360e6b71ce45179c86cf650b3bb9a53771d8f9953fe3"
)
PM25_LATLNG = RemoteFile(
    "pm25_stmvl", "pm25_latlng.txt", "a7423dafe4ecdec5ba04b4b6b047a53df1b9c04aed0a2957f1c698761715d7c1"
)
PM25_FILES = (PM25_GROUND, PM25_MISSING, PM25_LATLNG)

PM25_TEST_MONTHS = (3, 6, 9, 12)
PM25_TRAIN_MONTHS = (1, 2, 4, 5, 7, 8, 10, 11)  # CSDI's order; valid_index picks the valid month among them
_HIST_MONTHS = (2, 5, 8, 11)


def _fetch_pm25(file: RemoteFile, root, download: bool):
    """Verified path of one STMVL file; if missing, extract it (and its siblings) from the STMVL release zip."""
    try:
        return fetch(file, root=root, download=False)
    except DatasetNotFoundError as exc:
        if not download:
            raise DatasetNotFoundError(f"{exc} (it is in {PM25_ARCHIVE_URL}, under SampleData/)") from None
    dest = data_root(root) / file.folder
    try:
        with tempfile.TemporaryFile() as tmp:
            with urllib.request.urlopen(PM25_ARCHIVE_URL, timeout=60) as response:
                shutil.copyfileobj(response, tmp)
            tmp.seek(0)
            dest.mkdir(parents=True, exist_ok=True)  # only once the archive is here: no empty folders on failure
            with zipfile.ZipFile(tmp) as archive:
                members = {os.path.basename(n): n for n in archive.namelist() if "SampleData/" in n}
                for f in PM25_FILES:
                    if f.name in members and not (dest / f.name).exists():
                        with archive.open(members[f.name]) as src, open(dest / f.name, "wb") as out:
                            shutil.copyfileobj(src, out)
    except Exception as exc:  # network/zip errors: report them as "not found" with the origin
        raise DatasetNotFoundError(
            f"dataset file {file.relpath!r} not found under {data_root(root)} and extracting it from "
            f"{PM25_ARCHIVE_URL} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return fetch(file, root=root, download=False)


def _read_grid(path) -> pd.DataFrame:
    return pd.read_csv(path, index_col="datetime", parse_dates=True)


def _windows(a: np.ndarray, window: int, starts: np.ndarray) -> np.ndarray:
    """``a`` (T, K) -> ``(len(starts), window, K)`` copies of the windows beginning at ``starts``."""
    view = sliding_window_view(a, window, axis=0)  # (T - window + 1, K, window), no copy
    return np.ascontiguousarray(view[starts].transpose(0, 2, 1))


def load_pm25(
    root: str | os.PathLike | None = None,
    window: int = 36,
    valid_index: int = 0,
    download: bool = True,
) -> dict[str, ImputationData]:
    """PM2.5 imputation benchmark as in CSDI (see the module docstring for the protocol).

    Args:
        root: data root holding ``pm25_stmvl/`` (default ``$TSDIFF_DATA``).
        window: window length in hours (CSDI: 36).
        valid_index: which of CSDI's eight non-test months (1, 2, 4, 5, 7, 8, 10, 11) is validation (CSDI: 0).
        download: extract the files from the STMVL release zip if they are missing.

    Returns:
        ``{"train", "valid", "test"}`` -> :class:`ImputationData` with arrays ``(N, window, 36)`` and ``starts``
        (window start times). ``mean``/``std`` ``(36,)`` are in µg/m³: MAE in original units is the normalised
        MAE times ``std`` per station.
    """
    if not 0 <= valid_index < len(PM25_TRAIN_MONTHS):
        raise ValueError(f"valid_index must be in 0..{len(PM25_TRAIN_MONTHS) - 1}, got {valid_index}")
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    ground = _read_grid(_fetch_pm25(PM25_GROUND, root, download))
    missing = _read_grid(_fetch_pm25(PM25_MISSING, root, download))
    if not (ground.index.equals(missing.index) and ground.columns.equals(missing.columns)):
        raise ValueError("pm25_ground.txt and pm25_missing.txt do not cover the same hours and stations")

    months = ground.index.month
    not_test = ~np.isin(months, PM25_TEST_MONTHS)
    mean = ground[not_test].mean().to_numpy()
    std = ground[not_test].std().to_numpy()  # pandas: ddof=1, NaN skipped (CSDI uses DataFrame.describe())

    observed = ground.notna().to_numpy()
    given = missing.notna().to_numpy() & observed  # the files agree; & keeps given ⊂ observed by construction
    values = np.where(observed, (ground.to_numpy() - mean) / std, 0.0).astype(np.float32)
    times = ground.index.to_numpy()

    valid_month = PM25_TRAIN_MONTHS[valid_index]
    split_months = {
        "train": [m for m in PM25_TRAIN_MONTHS if m != valid_month],
        "valid": [valid_month],
        "test": list(PM25_TEST_MONTHS),
    }
    out = {}
    for split, month_list in split_months.items():
        parts: dict[str, list] = {"v": [], "o": [], "g": [], "cut": [], "t": [], "hist": []}
        for month in month_list:
            rows = np.flatnonzero(months == month)
            n = len(rows)
            if n < window:
                continue
            if split == "test":
                starts = np.arange(0, n - window + 1, window)
                cut = np.zeros(len(starts), dtype=int)
                if n % window:  # a last window ending at the month's end; its overlap is not scored twice
                    starts = np.append(starts, n - window)
                    cut = np.append(cut, window - n % window)
            else:
                starts = np.arange(n - window + 1)
                cut = np.zeros(len(starts), dtype=int)
            sl = slice(rows[0], rows[-1] + 1)  # a month's rows are contiguous in the hourly grid
            parts["v"].append(_windows(values[sl], window, starts))
            parts["o"].append(_windows(observed[sl], window, starts))
            parts["g"].append(_windows(given[sl], window, starts))
            parts["cut"].append(cut)
            parts["t"].append(times[sl][starts])
            parts["hist"].append(np.full(len(starts), month in _HIST_MONTHS))
        obs = np.concatenate(parts["o"])
        giv = np.concatenate(parts["g"])
        ev = obs & ~giv
        cut = np.concatenate(parts["cut"])
        ev[np.arange(window)[None, :] < cut[:, None]] = False  # drop the already-scored hours of overlap windows
        out[split] = ImputationData(
            values=np.concatenate(parts["v"]),
            observed_mask=obs,
            eval_mask=ev,
            given_mask=giv,
            split=split,
            mean=mean,
            std=std,
            feature_names=tuple(str(c) for c in ground.columns),
            starts=np.concatenate(parts["t"]),
            info={"dataset": "pm25", "months": tuple(month_list), "cut_length": cut,
                  "hist_ok": np.concatenate(parts["hist"]), "window": window},
        )
    return out
