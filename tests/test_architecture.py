"""The package's shape: imports only point down the floors, the two model families never import each other, and
loading a model file never unpickles."""
from __future__ import annotations

import ast
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tsdiff"
GROUND = {"tsdiff.checks", "tsdiff.quiet"}  # ground-floor helpers: import nothing of tsdiff
FOUNDATIONS = ("tsdiff.diffusion", "tsdiff.nn", "tsdiff.data", "tsdiff.evaluation")
FLOORS = [  # (what a module under this prefix may import from tsdiff)
    ("tsdiff.checks", ()),
    ("tsdiff.quiet", ()),
    *[(f, tuple(GROUND)) for f in FOUNDATIONS],
    ("tsdiff.models.base", tuple(GROUND) + FOUNDATIONS),
    ("tsdiff.models.timegrad", tuple(GROUND) + FOUNDATIONS + ("tsdiff.models.base",)),
    ("tsdiff.models.csdi", tuple(GROUND) + FOUNDATIONS + ("tsdiff.models.base",)),
    ("tsdiff.api", tuple(GROUND) + FOUNDATIONS + ("tsdiff.models",)),
    ("tsdiff.cli_io", tuple(GROUND) + FOUNDATIONS),
    ("tsdiff.cli", tuple(GROUND) + FOUNDATIONS + ("tsdiff.models", "tsdiff.api", "tsdiff")),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tsdiff_imports(path: Path) -> set[str]:
    """Absolute names of the tsdiff modules ``path`` imports (relative imports resolved)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "tsdiff")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] == "tsdiff":  # `from tsdiff.x import y`: y may be a module itself
                out.update(f"{name}.{a.name}" if is_module(f"{name}.{a.name}") else name for a in node.names)
    return out


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    module = module_name(path)
    floor = next(((prefix, allowed) for prefix, allowed in FLOORS if within(module, prefix)), None)
    if module == "tsdiff.models":
        floor = ("tsdiff.models", ())
    if floor is None:
        assert module == "tsdiff", f"{module} is on no floor: add it to FLOORS"
        return
    prefix, allowed = floor
    for name in tsdiff_imports(path):
        if within(name, prefix):
            continue
        assert any(within(name, a) for a in allowed), f"{module} imports {name}, which is not below it"


def test_the_families_never_import_each_other():
    for family, other in (("timegrad", "csdi"), ("csdi", "timegrad")):
        for path in (PACKAGE / "models" / family).rglob("*.py"):
            assert not any(within(n, f"tsdiff.models.{other}") for n in tsdiff_imports(path)), path


def test_files_stay_small():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 450}
    assert not long, f"split these files: {long}"


# -- model files -------------------------------------------------------------------------------------------------------
def test_loading_never_unpickles(tmp_path, monkeypatch):
    import torch

    import tsdiff
    from api_helpers import CSDI_FAST, FAST, hourly_frame

    y = hourly_frame(n=120)
    models = [tsdiff.TimeGrad(prediction_length=4, **FAST).fit(y), tsdiff.CSDI(prediction_length=4, **CSDI_FAST).fit(y)]
    paths = [m.save(tmp_path / f"{type(m).__name__}.tsd") for m in models]

    def refuse(*args, **kwargs):
        raise AssertionError("a model file must load without unpickling")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    np_load = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: np_load(*a, **{**k, "allow_pickle": False}))
    for model, path in zip(models, paths):
        loaded = tsdiff.load(path)
        np.testing.assert_array_equal(loaded.predict(num_samples=3, seed=1).samples,
                                      model.predict(num_samples=3, seed=1).samples)


def test_version_1_files_are_refused_by_name(tmp_path):
    import tsdiff

    path = tmp_path / "old.tsd"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "tsdiff-model", "format_version": 1, "model": "TimeGrad"}))
        zf.writestr("layout.pkl", b"\x80\x04N.")
    with pytest.raises(ValueError, match="format version 1 .*fit the model again"):
        tsdiff.load(path)
