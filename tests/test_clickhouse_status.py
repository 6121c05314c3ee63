"""The parts of the ClickHouse status that need no engine: time read as
SQLite's julianday() reads it (so that gaps and missed time round alike),
and the cluster template's tables, which must stay those the store creates."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from blueskypipe import clickhouse_status
from blueskypipe.clickhouse import TABLES
from tests.helpers import ROOT

_SQLITE = sqlite3.connect(":memory:")


def _stamp(at: datetime, digits: int, zone: str, sep: str) -> str:
    """`at` with 0 to 6 digits of fraction (or to the minute), a zone or none."""
    text = at.isoformat(sep=sep, timespec="microseconds")[: 20 + digits].rstrip(".")
    return text + zone


times = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 28))
stamps = st.builds(
    _stamp,
    times,
    st.integers(min_value=-3, max_value=6),
    st.sampled_from(["", "Z", "+02:00", "-05:30", "+14:00"]),
    st.sampled_from(["T", " "]),
)


@given(stamps)
def test_a_time_reads_as_sqlites_julianday(text: str) -> None:
    (expected,) = _SQLITE.execute("SELECT julianday(?)", (text,)).fetchone()
    assert clickhouse_status._julian(text) == expected


@given(times, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
def test_a_gap_rounds_as_sqlites(start: datetime, length: timedelta) -> None:
    first, last = start.isoformat(), (start + length).isoformat()
    (expected,) = _SQLITE.execute(
        "SELECT round((julianday(?) - julianday(?)) * 86400, 1)", (last, first)
    ).fetchone()
    assert clickhouse_status._seconds_between(first, last) == expected


def test_what_sqlite_cannot_read_is_no_time() -> None:
    for text in ("20250316T120610Z", "2025-03-16T12", "", None, "2025-3-16T12:00:00"):
        assert clickhouse_status._julian(text) is None
        assert _SQLITE.execute("SELECT julianday(?)", (text,)).fetchone() == (None,)


def _columns(statement: str) -> list[str]:
    """The column names of a CREATE TABLE statement."""
    body = re.search(r"CREATE TABLE [^(]*\((.*)\) ENGINE", statement, re.DOTALL)
    assert body, statement
    lines = (line.strip() for line in body[1].splitlines())
    return [line.split()[0] for line in lines if line and not line.startswith("INDEX")]


def test_the_cluster_template_has_the_stores_columns() -> None:
    template = (ROOT / "docs" / "clickhouse-cluster.sql").read_text()
    for table, statement in TABLES.items():
        found = re.search(rf"CREATE TABLE bluesky\.{table} ON CLUSTER.*?\) ENGINE", template, re.DOTALL)
        assert found, table
        assert _columns(found[0]) == _columns(statement), table
