"""Locating the offline dataset copies in tests."""
import os
from pathlib import Path

import pytest

DATA = os.environ.get("TSDIFF_DATA")


def data_file(relpath: str) -> Path:
    """Path of a file of the offline copies, or skip the test saying what is missing."""
    if not DATA:
        pytest.skip("TSDIFF_DATA is not set (point it at the offline dataset copies, e.g. ../shared/datasets)")
    path = Path(DATA) / relpath
    if not path.exists():
        pytest.skip(f"{relpath} not found under TSDIFF_DATA={DATA}")
    return path
