"""The ``.tsd`` model file: a zip archive of JSON and ``.npz`` files. Loading never unpickles anything.

Format (version 2):
    manifest.json   {"format": "tsdiff-model", "format_version": 2, "tsdiff_version": ..., "model": "TimeGrad",
                     "params": {constructor arguments but trainer_kwargs; time_features by GluonTS name, e.g.
                     [{"gluonts": "hour_of_day"}, {"gluonts": "Constant", "value": 0.0}]},
                     "backend": {what the backend needs to rebuild its network},
                     "layout": {the fitted pandas layout, labels typed}, "grid_start": {typed label},
                     "long_cols": {...}, "columns": [typed labels of the fitted variables],
                     "covariates": {"columns": {"covariates": [...], "past_covariates": [...]} (typed labels),
                                    optional "static": {"ids", "real_columns", "category_columns", "levels" (typed
                                    labels), "loc", "scale"}} (see :mod:`tsdiff.api.covariates`)}
    weights.npz     the network's state dict (arrays ``w:<name>``) and its config as JSON bytes
                    (:func:`tsdiff.models.base.recipe.save_weights`)
    history.npz     ``values`` (D, T) float32 grid of the fitted data, ``observed`` (T, D) float64 exact fitted values
                    on that grid, optional ``covariates`` (K, T), ``past_covariates`` (K_p, T), ``static_real``
                    (N, R) float32 (standardised) and ``static_codes`` (N, C) int64
A model fitted on a panel has, instead of "layout"/"grid_start"/"columns", ``"panel": {"source": "long" | "wide" |
"series", "layout": {its long layout: ids, starts, ...}}`` in the manifest, and ``panel_values`` (float32, the
series one after another) and ``panel_lengths`` (int64, N) in history.npz.
Readers refuse files whose ``format`` differs or whose ``format_version`` they do not know (version 1 files pickled
their pandas metadata and are refused: re-fit and save again).
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from tsdiff.data import PandasLayout

FORMAT = "tsdiff-model"
FORMAT_VERSION = 2


# -- typed JSON for pandas labels and layouts -------------------------------------------------------------------------
def encode_label(value):
    """A column/index label or timestamp as typed JSON (``{"t": type, "v": value}``); ValueError if unsupported."""
    if value is None:
        return {"t": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"t": "bool", "v": bool(value)}
    if isinstance(value, (int, np.integer)):
        return {"t": "int", "v": int(value)}
    if isinstance(value, (float, np.floating)):
        return {"t": "float", "v": float(value)}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, pd.Period):
        return {"t": "period", "v": str(value), "freq": value.freqstr}
    if isinstance(value, pd.Timestamp):
        return {"t": "timestamp", "v": value.isoformat()}
    if isinstance(value, tuple):
        return {"t": "tuple", "v": [encode_label(v) for v in value]}
    raise ValueError(f"cannot save a label of type {type(value).__name__} ({value!r}); use str or int labels")


def decode_label(data):
    """Inverse of :func:`encode_label`."""
    kind = data["t"]
    if kind == "none":
        return None
    if kind == "period":
        return pd.Period(data["v"], freq=data["freq"])
    if kind == "timestamp":
        return pd.Timestamp(data["v"])
    if kind == "tuple":
        return tuple(decode_label(v) for v in data["v"])
    return {"bool": bool, "int": int, "float": float, "str": str}[kind](data["v"])


def _encode_dtype(dtype):
    return None if dtype is None else str(dtype)


def _decode_dtype(text):
    return None if text is None else pd.api.types.pandas_dtype(text)


def encode_layout(layout: PandasLayout) -> dict:
    """A :class:`~tsdiff.data.PandasLayout` as JSON."""
    return dict(kind=layout.kind, freq=layout.freq, columns=[encode_label(c) for c in layout.columns],
                ids=[encode_label(i) for i in layout.ids], starts=[encode_label(s) for s in layout.starts],
                index_kind=layout.index_kind, index_name=encode_label(layout.index_name),
                dtypes=[_encode_dtype(d) for d in layout.dtypes], had_freq=layout.had_freq,
                columns_name=encode_label(layout.columns_name), id_dtype=_encode_dtype(layout.id_dtype))


def decode_layout(data: dict) -> PandasLayout:
    """Inverse of :func:`encode_layout`."""
    return PandasLayout(kind=data["kind"], freq=data["freq"], columns=tuple(decode_label(c) for c in data["columns"]),
                        ids=tuple(decode_label(i) for i in data["ids"]),
                        starts=tuple(decode_label(s) for s in data["starts"]), index_kind=data["index_kind"],
                        index_name=decode_label(data["index_name"]),
                        dtypes=tuple(_decode_dtype(d) for d in data["dtypes"]), had_freq=data["had_freq"],
                        columns_name=decode_label(data["columns_name"]), id_dtype=_decode_dtype(data["id_dtype"]))


# -- constructor arguments ------------------------------------------------------------------------------------------
def _encode_time_feature(feature, i: int) -> dict:
    import gluonts.time_feature as gtf

    if isinstance(feature, gtf.Constant):
        return {"gluonts": "Constant", "value": float(feature.value)}
    name = getattr(feature, "__name__", None)
    if name is not None and getattr(gtf, name, None) is feature:
        return {"gluonts": name}
    raise ValueError(f"cannot save time_features[{i}] ({feature!r}): a model file stores time features by name, so "
                     "only GluonTS's own (gluonts.time_feature.hour_of_day, day_of_week, ..., Constant) can be saved; "
                     "pass your feature as covariates instead (fit(y, covariates=X)), or use one of those")


def _decode_time_feature(data: dict):
    import gluonts.time_feature as gtf

    name = data["gluonts"]
    if name == "Constant":
        return gtf.Constant(value=data["value"])
    feature = getattr(gtf, name, None)
    if not callable(feature) or name.startswith("_"):
        raise ValueError(f"unknown GluonTS time feature {name!r}")
    return feature


def encode_params(params: dict) -> dict:
    """A model's constructor arguments as JSON: ``trainer_kwargs`` is left out (callbacks and loggers belong to a
    training run, not to a file), ``time_features`` are stored by name; any other argument JSON cannot hold is a
    ValueError naming it."""
    out = {}
    for name, value in params.items():
        if name == "trainer_kwargs":
            continue
        if name == "time_features" and value is not None:
            value = [_encode_time_feature(f, i) for i, f in enumerate(value)]
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cannot save the argument {name}={value!r} in a model file ({exc})") from None
        out[name] = value
    return out


def decode_params(params: dict) -> dict:
    """Inverse of :func:`encode_params`."""
    params = dict(params)
    if params.get("time_features") is not None:
        params["time_features"] = [_decode_time_feature(f) for f in params["time_features"]]
    return params


# -- the archive ------------------------------------------------------------------------------------------------------
def check_model_path(path) -> Path:
    """``path`` as a Path if a model file can be written there; ValueError naming the problem otherwise (a
    directory, a parent that is a file, no permission). Checked before anything is serialised."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {path!r}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"cannot save to {str(path)!r}: it is a directory; give a file name such as "
                         f"{str(path / 'model.tsd')!r}")
    existing = path.parent
    while not existing.exists():  # missing directories are created; the deepest existing part must allow it
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"cannot save to {str(path)!r}: {str(existing)!r} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"cannot save to {str(path)!r}: permission denied")
    return path


def write_archive(path: str | os.PathLike, manifest: dict, directory: Path) -> Path:
    """Zip ``manifest`` and every file below ``directory`` into ``path``.

    Written to a temporary file beside ``path`` and renamed over it, so a failure part-way leaves any previous file
    at ``path`` intact.
    """
    path = check_model_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=2))
            for file in sorted(Path(directory).rglob("*")):
                if file.is_file():
                    zf.write(file, file.relative_to(directory).as_posix())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_archive(path: str | os.PathLike) -> tuple[dict, Path]:
    """Validate a model file and unpack it; returns (manifest, directory holding the other members).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a tsdiff model file, truncated or corrupted, or of a format version this tsdiff cannot read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise ValueError(f"{path} is corrupted (member {bad!r} fails its checksum)")
            if "manifest.json" not in zf.namelist():
                raise ValueError(f"{path} is not a tsdiff model file (no manifest.json)")
            manifest = json.loads(zf.read("manifest.json"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ValueError(f"{path} is not a tsdiff model file (format {manifest.get('format')!r})")
            version = manifest.get("format_version")
            if version == 1:
                raise ValueError(f"{path} has model-file format version 1 (tsdiff 0.1, which pickled its data); "
                                 f"this tsdiff reads version {FORMAT_VERSION} only: fit the model again and save it")
            if version != FORMAT_VERSION:
                raise ValueError(f"{path} has model-file format version {version!r}; this tsdiff reads version "
                                 f"{FORMAT_VERSION} — upgrade tsdiff")
            for name in zf.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise ValueError(f"{path} contains an unsafe member name {name!r}")
            target = Path(tempfile.mkdtemp(prefix="tsdiff-model-"))
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not a tsdiff model file or is truncated ({exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} has an unreadable manifest ({exc})") from exc
    except (EOFError, zipfile.LargeZipFile, OSError) as exc:
        raise ValueError(f"{path} is truncated or unreadable ({exc})") from exc
    return manifest, target
