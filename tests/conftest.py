"""Fixtures only: a temp database with the real executables around it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.helpers import Pipeline

# Without the `clickhouse` extra the ClickHouse tests are not collected at
# all (make test-clickhouse installs it): with it, a broken install fails
# them rather than skipping them.
collect_ignore = [] if importlib.util.find_spec("clickhouse_connect") else ["test_clickhouse.py"]


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    return Pipeline(tmp_path)
