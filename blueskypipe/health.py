"""What `periodic`'s status says about the pipeline: freshness, lag, rate, runs and gaps.

`read` is handed `now` and returns a `Status`; `describe` turns one into
the lines `periodic` prints. Neither reads the clock nor prints, so the
rules (when is the writer stale, what is the lag) are tested in-process
with exact times.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from blueskypipe import db

# periodic warns when handle-stream has been silent longer than this; it
# commits at least every HEARTBEAT_SECONDS (15 s, flush.py) while it runs.
STALE_SECONDS = 60
# The ingest rate is averaged over this much of the recent past.
RATE_SECONDS = 60
# How many of the latest gaps between runs the status names.
GAPS_SHOWN = 3


class StatusError(Exception):
    """The database cannot be read."""


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
    seconds: float | None  # None when SQLite's julianday() cannot read the times
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

    @property
    def running(self) -> bool:
        """Whether the latest run has not ended (it runs, or was killed and not found out yet)."""
        return self.run is not None and self.run.end_reason is None

    @property
    def stale(self) -> bool:
        """A run that should be committing has been silent for more than STALE_SECONDS."""
        since = self.seconds_since_commit
        return self.running and since is not None and since > STALE_SECONDS


def read(db_path: Path, now: float) -> Status | None:
    """The status of the database at `db_path` at `now` (Unix seconds); None if
    there is no database yet. Brings the schema up to date first; the status
    carries what that changed. Raises StatusError if the database cannot be read."""
    if not db_path.exists():
        return None
    try:
        conn = db.connect(db_path)
        try:
            notes = db.ensure_schema(conn)
            conn.execute("BEGIN")  # one snapshot for all the reads below
            status = _status(conn, now)
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        msg = f"cannot read {db_path}: {exc}"
        raise StatusError(msg) from exc
    status.upgrade_notes = notes
    return status


def _status(conn: sqlite3.Connection, now: float) -> Status:
    # A few reads by primary key or of small tables: none grows with the
    # events ever ingested (runs and run_gaps grow by one row per restart).
    last, commit_at, words_reset_at, events, rejected = conn.execute(
        "SELECT last_event_time, last_commit_at, word_counts_reset_at, events, rejected FROM ingest_status"
    ).fetchone()
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
        seconds_since_commit=_since_commit(commit_at, now),
        events=events,
        rejected=rejected,
        word_counts_reset_at=words_reset_at,
        lag_seconds=lag(last, now),
        events_per_second=_rate(conn, run, now),
        run=run,
        gaps=gaps,
    )


def _since_commit(commit_at: str | None, now: float) -> float | None:
    if commit_at is None:
        return None
    # Both as naive local time: across a change of daylight saving time
    # this is off for one commit at most, where Unix time would be off for
    # the whole repeated hour.
    return max(0.0, (datetime.fromtimestamp(now) - datetime.fromisoformat(commit_at)).total_seconds())


def lag(last_event_time: str | None, now: float) -> float | None:
    """Seconds from the event time `last_event_time` to `now`; None if there is
    none or it is not a time."""
    if last_event_time is None:
        return None
    try:
        last = datetime.fromisoformat(last_event_time)
    except ValueError:
        return None
    # Event times are naive local time (docs/metrics.md#time); an offset, if one is given, is honoured.
    return (datetime.fromtimestamp(now, last.tzinfo) - last).total_seconds()


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


def describe(db_path: Path, status: Status | None) -> list[str]:
    """The status as lines for people, headed by the database's name."""
    if status is None:
        return [f"no database at {db_path} yet: start ./handle-stream first (wrote header-only CSVs)"]
    age = "never" if status.seconds_since_commit is None else f"{status.seconds_since_commit:.1f} s ago"
    head = (
        f"{db_path}: last event {status.last_event_time or '-'}, last commit {age}, "
        f"{status.events:,} events, {status.rejected:,} rejected lines"
    )
    notes = [f"  {note}" for note in status.upgrade_notes]
    if status.word_counts_reset_at:
        notes.append(
            f"  top words counted since {status.word_counts_reset_at}: the upgrade to merged"
            " word forms could not convert older word counts"
        )
    return [head, *_run_lines(status), *map(_gap_line, status.gaps), *notes]


def _run_lines(status: Status) -> list[str]:
    run = status.run
    if run is None:
        return []
    if run.end_reason is not None:
        return [
            f"  handle-stream is not running: run {run.run_id} ended ({run.end_reason}) at {run.ended_at}"
        ]
    behind = "-" if status.lag_seconds is None else duration(status.lag_seconds)
    rate = 0.0 if status.events_per_second is None else status.events_per_second
    lines = [
        f"  run {run.run_id} since {run.started_at}: lag {behind}, {rate:,.0f} events/s over the last minute"
    ]
    if status.stale and status.seconds_since_commit is not None:
        silent = duration(status.seconds_since_commit)
        lines.append(f"  handle-stream has not committed for {silent}: is it still running?")
    return lines


def _gap_line(gap: Gap) -> str:
    length = "" if gap.seconds is None else f" ({duration(gap.seconds)})"
    return (
        f"  gap in event time: {gap.start} .. {gap.end}{length},"
        f" after run {gap.after_run} ended ({gap.after_run_ended_by})"
    )


def duration(seconds: float) -> str:
    """A span for people: '0.8 s', '3 min 10 s', '2 h 5 min', '3 d 4 h'."""
    if seconds < 0:
        return "-" + duration(-seconds)  # a clock set back
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"
