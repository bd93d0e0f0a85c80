"""Where raw dataset files live, how they are checked, and how they are fetched.

Raw files are looked up as ``<data root>/<folder>/<name>``, the layout of the project's offline copies, so
``TSDIFF_DATA=../shared/datasets`` just works. The data root is ``$TSDIFF_DATA`` if set, else a per-user cache
(``$XDG_CACHE_HOME/tsdiff/data``, default ``~/.cache/tsdiff/data``). Processed files never go into the data root:
they go to :func:`cache_dir` (``$TSDIFF_CACHE``, default ``$XDG_CACHE_HOME/tsdiff/processed``).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path


class DatasetNotFoundError(FileNotFoundError):
    """A raw dataset file is not on disk and could not be downloaded."""


class ChecksumError(ValueError):
    """A raw dataset file exists but its sha256 differs from the registered one."""


class UnverifiedFileWarning(UserWarning):
    """A raw dataset file is used without checksum verification (no sha256 registered for it)."""


@dataclass(frozen=True)
class RemoteFile:
    """One raw file of a dataset: ``<root>/<folder>/<name>``, its sha256 and the public URLs it comes from.

    ``sha256=None`` means the checksum is not known (files that could never be copied offline): such a file is
    used with an :class:`UnverifiedFileWarning` instead of being verified.
    """

    folder: str
    name: str
    sha256: str | None
    urls: tuple[str, ...] = field(default_factory=tuple)

    @property
    def relpath(self) -> str:
        return f"{self.folder}/{self.name}"


def _xdg_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The directory raw files are read from: ``root`` if given, else ``$TSDIFF_DATA``, else the user cache."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("TSDIFF_DATA")
    return Path(env).expanduser() if env else _xdg_cache() / "tsdiff" / "data"


def cache_dir(*parts: str) -> Path:
    """A directory for derived files (``$TSDIFF_CACHE`` or the user cache), created on demand."""
    base = os.environ.get("TSDIFF_CACHE")
    path = (Path(base).expanduser() if base else _xdg_cache() / "tsdiff" / "processed").joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, so a file is hashed once


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file (memoised per path, size and modification time)."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def verify(path: Path, expected_sha256: str) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the expected sha256."""
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ChecksumError(
            f"checksum mismatch for {path}: sha256 is {actual}, expected {expected_sha256}. "
            "The file is corrupted or a different version; delete it and fetch it again."
        )


def _download(url: str, dest: Path, timeout: float = 60.0) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, tmp)
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, dest)


def fetch(file: RemoteFile, root: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Path of a verified raw file, downloading it from its public origin if it is missing.

    Raises:
        DatasetNotFoundError: the file is missing and could not be downloaded (the message says where it was
            looked for and where to get it).
        ChecksumError: the file (present or just downloaded) has the wrong sha256.

    Warns:
        UnverifiedFileWarning: ``file.sha256`` is None, so the file cannot be verified.
    """
    base = data_root(root)
    path = base / file.folder / file.name
    if not path.exists():
        errors = []
        if download:
            for url in file.urls:
                try:
                    _download(url, path)
                    break
                except Exception as exc:  # network errors come in many types; all mean "not from here"
                    errors.append(f"{url}: {type(exc).__name__}: {exc}")
        if not path.exists():
            where = " or ".join(file.urls) if file.urls else "its public origin (see datasets/README.md)"
            detail = ("; download failed: " + "; ".join(errors)) if errors else ""
            raise DatasetNotFoundError(
                f"dataset file {file.relpath!r} not found at {path} (data root: {base}; set TSDIFF_DATA to the "
                f"folder holding '{file.folder}/'). Get it from {where}{detail}"
            )
    if file.sha256 is None:
        warnings.warn(
            f"dataset file {file.relpath!r} at {path} has no registered sha256; it is used unverified",
            UnverifiedFileWarning,
            stacklevel=2,
        )
    else:
        verify(path, file.sha256)
    return path
