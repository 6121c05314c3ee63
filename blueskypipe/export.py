"""Export the metric views of schema.sql to CSV files, atomically.

Each file is written to a unique temporary file in the metrics folder and
renamed over the old one, so a reader sees the old file or the new one,
never half of either.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from blueskypipe import db

# file name -> (view, header). The header is fixed here rather than taken
# from the cursor so that a missing database still yields the same files.
METRICS: dict[str, tuple[str, tuple[str, str]]] = {
    "likes-per-minutes.csv": ("metric_likes_per_minute", ("time", "likes")),
    "fast-likers.csv": ("metric_fast_likers", ("user_id", "likes")),
    "top-10-word.csv": ("metric_top_words", ("word", "posts")),
    "posts-per-language.csv": ("metric_posts_per_language", ("lang", "posts")),
}


class ExportError(Exception):
    """The metrics folder cannot be written, or the database cannot be read."""


# The ingest rate is averaged over this much of the recent past.
RATE_SECONDS = 60
# How many of the latest gaps between runs the status names.
GAPS_SHOWN = 3


@dataclass
class Run:
    """A row of the runs table, as the status shows it."""

    run_id: int
    started_at: str
    ended_at: str | None
    end_reason: str | None  # None while running (or killed, not yet found out)


@dataclass
class Gap:
    """Event time not seen between two runs (a row of the run_gaps view)."""

    after_run: int
    start: str
    end: str
    seconds: float | None  # None when SQLite cannot read the times (julianday)
    after_run_ended_by: str


@dataclass
class Status:
    """Freshness, health and volume figures for the status of `periodic`."""

    last_event_time: str | None
    seconds_since_commit: float | None
    events: int
    rejected: int
    word_counts_reset_at: str | None = None
    lag_seconds: float | None = None  # now minus the last event time, both local clock
    events_per_second: float | None = None  # over the last RATE_SECONDS of commits
    run: Run | None = None  # the latest run
    gaps: list[Gap] = field(default_factory=list)  # latest first
    upgrade_notes: list[str] = field(default_factory=list)  # what this read's schema upgrade changed


Rows = list[tuple[object, ...]]


def read_metrics(db_path: Path) -> tuple[dict[str, Rows], Status | None]:
    """Rows of every metric view and the ingest status; no database -> empty, None."""
    if not db_path.exists():
        return {name: [] for name in METRICS}, None
    try:
        conn = db.connect(db_path)
        try:
            upgrade_notes = db.ensure_schema(conn)
            # One read transaction, so all four files come from one snapshot.
            conn.execute("BEGIN")
            rows = {
                name: conn.execute(f"SELECT * FROM {view}").fetchall() for name, (view, _) in METRICS.items()
            }
            status = _status(conn)
            status.upgrade_notes = upgrade_notes
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        msg = f"cannot read {db_path}: {exc}"
        raise ExportError(msg) from exc
    return rows, status


def _status(conn: sqlite3.Connection) -> Status:
    # A few reads by primary key or of small tables: none grows with the
    # events ever ingested (runs and run_gaps grow by one row per restart).
    last, commit_at, words_reset_at, events, rejected = conn.execute(
        "SELECT last_event_time, last_commit_at, word_counts_reset_at, events, rejected FROM ingest_status"
    ).fetchone()
    now = time.time()
    run_row = conn.execute(
        "SELECT run_id, started_at, ended_at, end_reason FROM runs ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    run = None if run_row is None else Run(*run_row)
    gaps = [
        Gap(*row)
        for row in conn.execute(
            "SELECT after_run, gap_start, gap_end, seconds, after_run_ended_by FROM run_gaps"
            " ORDER BY after_run DESC LIMIT ?",
            (GAPS_SHOWN,),
        )
    ]
    return Status(
        last_event_time=last,
        seconds_since_commit=None
        if commit_at is None
        else max(0.0, (datetime.fromtimestamp(now) - datetime.fromisoformat(commit_at)).total_seconds()),
        events=events,
        rejected=rejected,
        word_counts_reset_at=words_reset_at,
        lag_seconds=_lag(last),
        events_per_second=_rate(conn, run, now),
        run=run,
        gaps=gaps,
    )


def _lag(last_event_time: str | None) -> float | None:
    if last_event_time is None:
        return None
    try:
        last = datetime.fromisoformat(last_event_time)
    except ValueError:
        return None
    # Event times are naive local time (SPEC §2); an offset, if one is given, is honoured.
    return (datetime.now(last.tzinfo) - last).total_seconds()


def _rate(conn: sqlite3.Connection, run: Run | None, now: float) -> float | None:
    """Events per second committed over the last minute of the running run."""
    if run is None or run.end_reason is not None:
        return None
    (recent,) = conn.execute(
        "SELECT coalesce(sum(events), 0) FROM recent_commits WHERE at > ?", (now - RATE_SECONDS,)
    ).fetchone()
    # A run younger than a minute has had less time to commit.
    age = now - datetime.fromisoformat(run.started_at).timestamp()
    return float(recent) / max(1.0, min(float(RATE_SECONDS), age))


def write_csvs(metrics_dir: Path, rows: dict[str, Rows]) -> None:
    """Replace each metrics CSV atomically; raise ExportError if the folder is not writable."""
    try:
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for name, (_, header) in METRICS.items():
            write_csv(metrics_dir / name, header, rows[name])
    except OSError as exc:
        msg = f"cannot write metrics to {metrics_dir}: {exc}"
        raise ExportError(msg) from exc


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
