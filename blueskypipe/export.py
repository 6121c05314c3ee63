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
from contextlib import contextmanager
from pathlib import Path

# file name -> (view, header). The header is fixed here rather than taken
# from the cursor so that a missing database still yields the same files.
METRICS: dict[str, tuple[str, tuple[str, str]]] = {
    "likes-per-minutes.csv": ("metric_likes_per_minute", ("time", "likes")),
    "fast-likers.csv": ("metric_fast_likers", ("user_id", "likes")),
    "top-10-word.csv": ("metric_top_words", ("word", "posts")),
    "posts-per-language.csv": ("metric_posts_per_language", ("lang", "posts")),
}


class ExportError(Exception):
    """The metrics folder cannot be written."""


Rows = list[tuple[object, ...]]

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


def read_metrics(conn: sqlite3.Connection) -> dict[str, Rows]:
    """Rows of every metric view, read through `conn` (in the caller's read
    transaction, so that all four files come from one snapshot)."""
    return {name: conn.execute(f"SELECT * FROM {view}").fetchall() for name, (view, _) in METRICS.items()}


def write_csvs(metrics_dir: Path, rows: dict[str, Rows]) -> None:
    """Replace each metrics CSV atomically; raise ExportError if the folder is not writable."""
    try:
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for name, (_, header) in METRICS.items():
            write_csv(metrics_dir / name, header, rows[name])
    except OSError as exc:
        msg = f"cannot write metrics to {metrics_dir}: {exc}"
        raise ExportError(msg) from exc


def write_missing(metrics_dir: Path) -> list[str]:
    """Write a header-only file for each metric that has no file yet, and
    return their names; existing files are never replaced. Raises ExportError."""
    missing = [name for name in METRICS if not (metrics_dir / name).exists()]
    try:
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for name in missing:
            write_csv(metrics_dir / name, METRICS[name][1], [])
    except OSError as exc:
        msg = f"cannot write metrics to {metrics_dir}: {exc}"
        raise ExportError(msg) from exc
    return missing


def write_csv(path: Path, header: tuple[str, str], rows: Rows) -> None:
    """Write `path` through a unique temp file in the same folder plus a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
