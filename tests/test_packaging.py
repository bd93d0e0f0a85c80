"""Packaging: a LICENSE matching the declared licence, a build backend that understands it, a typed package, and
no declared dependency the code never imports."""
import ast
import inspect
import re
from pathlib import Path

import pytest

import tsdiff

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python 3.11+
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
IMPORT_NAMES = {"scikit-learn": "sklearn", "gluonts": "gluonts"}  # distribution → import name where they differ


def test_license_file_is_apache_2():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert PROJECT["project"]["license"] == "Apache-2.0" and PROJECT["project"]["license-files"] == ["LICENSE"]


def test_build_backend_reads_the_spdx_licence():
    requires = PROJECT["build-system"]["requires"]
    version = next(re.match(r"setuptools>=(\d+)", r).group(1) for r in requires if r.startswith("setuptools"))
    assert int(version) >= 77  # PEP 639 licence expressions
    classifiers = PROJECT["project"]["classifiers"]
    assert "Typing :: Typed" in classifiers and not [c for c in classifiers if c.startswith("License ::")]


def test_package_is_typed():
    assert (ROOT / "tsdiff" / "py.typed").exists()
    assert "py.typed" in PROJECT["tool"]["setuptools"]["package-data"]["tsdiff"]
    public = [tsdiff.TimeGrad.__init__, tsdiff.TimeGrad.fit, tsdiff.TimeGrad.predict, tsdiff.TimeGrad.save,
              tsdiff.TimeGrad.predict_interval, tsdiff.TimeGrad.cross_validation, tsdiff.CSDI.__init__,
              tsdiff.CSDI.impute, tsdiff.load]
    for function in public:
        signature = inspect.signature(function)
        missing = [n for n, p in signature.parameters.items() if n != "self" and p.kind is not p.VAR_KEYWORD
                   and p.annotation is inspect.Parameter.empty]
        assert not missing and signature.return_annotation is not inspect.Signature.empty, (function, missing)


def _imported_top_level_names() -> set:
    names = set()
    for path in (ROOT / "tsdiff").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_declared_dependency_is_imported():
    imported = _imported_top_level_names()
    for requirement in PROJECT["project"]["dependencies"]:
        dist = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
        assert IMPORT_NAMES.get(dist, dist.replace("-", "_")) in imported, f"{dist} is declared but never imported"


def test_version_has_one_source():
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tsdiff.__version__"}
    assert "version" in PROJECT["project"]["dynamic"]
