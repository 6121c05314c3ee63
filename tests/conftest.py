"""Fixtures only: a temp database with the real executables around it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Pipeline


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    return Pipeline(tmp_path)
