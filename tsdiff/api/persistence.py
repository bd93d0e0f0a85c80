"""The ``.tsd`` model file: a zip archive holding ``manifest.json`` and the GluonTS predictor directory.

Format (version 1):
    manifest.json   {"format": "tsdiff-model", "format_version": 1, "tsdiff_version": ..., "model": "TimeGrad",
                     "params": {constructor arguments}, "state": {fitted pandas metadata}}
    predictor/...   the output of GluonTS ``Predictor.serialize`` (network weights and hyperparameters)
    history.csv     optional: the fitted data, so ``predict()`` without data forecasts past its end
Readers refuse files whose ``format`` differs or whose ``format_version`` is newer than they know.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

FORMAT = "tsdiff-model"
FORMAT_VERSION = 1


def write_archive(path: str | os.PathLike, manifest: dict, directory: Path) -> Path:
    """Zip ``manifest`` and every file below ``directory`` into ``path`` (written atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, default=str))
        for file in sorted(Path(directory).rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(directory).as_posix())
    os.replace(tmp, path)
    return path


def read_archive(path: str | os.PathLike) -> tuple[dict, Path]:
    """Validate a model file and unpack it; returns (manifest, directory holding the other members).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a tsdiff model file, truncated or corrupted, or of a newer format version.
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
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise ValueError(f"{path} has model-file format version {version!r}; this tsdiff reads versions "
                                 f"up to {FORMAT_VERSION} — upgrade tsdiff")
            target = Path(tempfile.mkdtemp(prefix="tsdiff-model-"))
            for name in zf.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise ValueError(f"{path} contains an unsafe member name {name!r}")
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not a tsdiff model file or is truncated ({exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} has an unreadable manifest ({exc})") from exc
    except (EOFError, zipfile.LargeZipFile, OSError) as exc:
        raise ValueError(f"{path} is truncated or unreadable ({exc})") from exc
    return manifest, target
