"""Export the metric views of schema.sql to CSV files, atomically.

Each file is written to a unique temporary file in the metrics folder and
renamed over the old one, so a reader sees the old file or the new one,
never half of either.
"""

from __future__ import annotations

import csv
import fcntl
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NamedTuple

from blueskypipe.db import apply_schema

# file name -> the view it holds. Each file's header is its view's column names.
METRICS: dict[str, str] = {
    "likes-per-minutes.csv": "metric_likes_per_minute",
    "fast-likers.csv": "metric_fast_likers",
    "top-10-word.csv": "metric_top_words",
    "posts-per-language.csv": "metric_posts_per_language",
}


class ExportError(Exception):
    """The metrics folder cannot be written."""


Rows = list[tuple[object, ...]]


class Table(NamedTuple):
    """A view's column names and rows."""

    header: tuple[str, ...]
    rows: Rows


# Beside the CSVs: the lock that lets one export at a time write them.
LOCK_NAME = ".periodic.lock"


@contextmanager
def exclusive(metrics_dir: Path) -> Iterator[None]:
    """Hold the metrics folder's export lock (creating the folder) for the
    `with` block; waits while another export holds it. An flock, so the
    kernel releases it when its holder dies. Raises ExportError."""
    try:
        metrics_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(metrics_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        msg = f"cannot write metrics to {metrics_dir}: {exc}"
        raise ExportError(msg) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def read_metrics(conn: sqlite3.Connection) -> dict[str, Table]:
    """Every metric view, read through `conn` (in the caller's read
    transaction, so that all four files come from one snapshot)."""
    return {name: _table(conn, view) for name, view in METRICS.items()}


def _table(conn: sqlite3.Connection, view: str) -> Table:
    cursor = conn.execute(f"SELECT * FROM {view}")
    rows = cursor.fetchall()
    return Table(tuple(column[0] for column in cursor.description), rows)


def write_csvs(metrics_dir: Path, tables: dict[str, Table]) -> None:
    """Replace each metrics CSV atomically; raise ExportError if the folder is not writable."""
    try:
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for name in METRICS:
            write_csv(metrics_dir / name, tables[name])
    except OSError as exc:
        msg = f"cannot write metrics to {metrics_dir}: {exc}"
        raise ExportError(msg) from exc


def write_missing(metrics_dir: Path) -> list[str]:
    """Write a header-only file for each metric that has no file yet, and
    return their names; existing files are never replaced. The headers come
    from the views of an empty database in memory. Raises ExportError."""
    missing = [name for name in METRICS if not (metrics_dir / name).exists()]
    if not missing:
        return []
    with closing(sqlite3.connect(":memory:")) as conn:
        apply_schema(conn)
        empty = read_metrics(conn)
    try:
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for name in missing:
            write_csv(metrics_dir / name, empty[name])
    except OSError as exc:
        msg = f"cannot write metrics to {metrics_dir}: {exc}"
        raise ExportError(msg) from exc
    return missing


def write_csv(path: Path, table: Table) -> None:
    """Write `path` through a unique temp file in the same folder plus a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(table.header)
            writer.writerows(table.rows)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
