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
from itertools import dropwhile
from pathlib import Path

from blueskypipe.flush import HEARTBEAT_SECONDS
from blueskypipe.times import MICROS_PER_MINUTE, micros, minute_text
from blueskypipe.windows import LATE_MICROS
from blueskypipe.wording import counted, plural

# periodic warns when handle-stream has been silent longer than this: a
# running writer commits at least every heartbeat, so four missed in a row
# mean it is stalled (or gone without a word).
STALE_SECONDS = 4 * HEARTBEAT_SECONDS
# ...and when it commits but no event has come for longer than this: the
# real stream never pauses that long (~1,000-2,000 events/s).
NO_EVENTS_SECONDS = 60
# The status sums the event time missed between runs over this much of the past.
MISSED_WINDOW_SECONDS = 24 * 3600
# The ingest rate is averaged over this much of the recent past.
RATE_SECONDS = 60
# How many of the latest gaps between runs the status names.
GAPS_SHOWN = 3
# The status charts the likes of this many minutes, up to the latest event's.
CHART_MINUTES = 30
# Eighths of a character cell, lowest first; a minute without likes is a blank.
BARS = "▁▂▃▄▅▆▇█"


@dataclass
class Run:
    """A row of the runs table, as the status shows it."""

    run_id: int
    started_at: str
    ended_at: str | None
    end_reason: str | None  # None while running (or killed, not yet found out)
    far_off_likes: int = 0  # likes whose time jumped far from the stream's (windows.StreamClock)
    last_commit_at: str | None = None


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
    events_per_second: float | None = None  # over the last rate_seconds of commits
    rate_seconds: float = RATE_SECONDS  # RATE_SECONDS, or less for a younger run
    run: Run | None = None  # the latest run
    seconds_since_events: float | None = None  # since a commit of the latest run last carried events
    gaps: list[Gap] = field(default_factory=list)  # latest first
    missed_seconds: float = 0.0  # event time in the gaps that ended in the last MISSED_WINDOW_SECONDS
    missed_gaps: int = 0
    # Whether a handle-stream holds the database's writer lock (lock.py); None: not known.
    writer_alive: bool | None = None
    # (minute, likes) of the CHART_MINUTES minutes up to the latest event's,
    # oldest first; the last one may still be in progress.
    recent_likes: list[tuple[str, int]] = field(default_factory=list)

    @property
    def open_run(self) -> bool:
        """Whether the latest run has recorded no end (it runs, or it died without a word)."""
        return self.run is not None and self.run.end_reason is None

    @property
    def died(self) -> bool:
        """The latest run recorded no end, and no handle-stream holds the lock:
        it was killed or crashed (the next start will record it as killed)."""
        return self.open_run and self.writer_alive is False

    @property
    def running(self) -> bool:
        """Whether the latest run is going on (as far as the writer lock tells)."""
        return self.open_run and not self.died

    @property
    def starved(self) -> bool:
        """A run that commits (not stale) but has had no event for more than NO_EVENTS_SECONDS:
        its source, ./bluesky, has stalled."""
        since = self.seconds_since_events
        return self.running and not self.stale and since is not None and since > NO_EVENTS_SECONDS

    @property
    def stale(self) -> bool:
        """A run that should be committing has been silent for more than STALE_SECONDS."""
        since = self.seconds_since_commit
        return self.running and since is not None and since > STALE_SECONDS


def read(conn: sqlite3.Connection, now: float) -> Status:
    """The status at `now` (Unix seconds), read through `conn` (inside the
    caller's read transaction, so that it matches the metrics read with it).
    Whether a writer holds the lock is the caller's to set (`writer_alive`)."""
    return _status(conn, now)


def _status(conn: sqlite3.Connection, now: float) -> Status:
    # A few reads by primary key or of small tables: none grows with the
    # events ever ingested (runs and run_gaps grow by one row per restart).
    last, commit_at, words_reset_at, events, rejected = conn.execute(
        "SELECT last_event_time, last_commit_at, word_counts_reset_at, events, rejected FROM ingest_status"
    ).fetchone()
    run_row = conn.execute(
        # A run begun before runs.last_events_at existed: its last commit, if it had events.
        "SELECT run_id, started_at, ended_at, end_reason, far_off_likes, last_commit_at,"
        " coalesce(last_events_at, CASE WHEN events > 0 THEN last_commit_at END, started_at)"
        " FROM runs ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    run = None if run_row is None else Run(*run_row[:6])
    events_at = None if run_row is None else run_row[6]
    gaps = [
        Gap(*row)
        for row in conn.execute(
            "SELECT after_run, gap_start, gap_end, seconds, after_run_ended_by FROM run_gaps"
            " ORDER BY after_run DESC LIMIT ?",
            (GAPS_SHOWN,),
        )
    ]
    missed_seconds, missed_gaps = _missed(conn, now)
    rate, rate_seconds = _rate(conn, run, now)
    return Status(
        recent_likes=_recent_likes(conn, last),
        last_event_time=last,
        seconds_since_commit=_seconds_since(commit_at, now),
        seconds_since_events=_seconds_since(events_at, now),
        missed_seconds=float(missed_seconds),
        missed_gaps=missed_gaps,
        events=events,
        rejected=rejected,
        word_counts_reset_at=words_reset_at,
        lag_seconds=lag(last, now),
        events_per_second=rate,
        rate_seconds=rate_seconds,
        run=run,
        gaps=gaps,
    )


def _missed(conn: sqlite3.Connection, now: float) -> tuple[float, int]:
    """Event time in the gaps between runs, clipped to the last MISSED_WINDOW_SECONDS,
    and how many gaps that is. A gap that goes back in time (a replayed file,
    a clock set back) misses nothing."""
    # Gaps are in event time, which is this machine's local clock too.
    since, until = (datetime.fromtimestamp(at).isoformat() for at in (now - MISSED_WINDOW_SECONDS, now))
    seconds, gaps = conn.execute(
        """SELECT coalesce(sum(end_day - start_day), 0) * 86400, count(*) FROM (
               SELECT max(julianday(gap_start), julianday(:since)) AS start_day,
                      min(julianday(gap_end), julianday(:until)) AS end_day
               FROM run_gaps
           ) WHERE end_day > start_day""",
        {"since": since, "until": until},
    ).fetchone()
    return round(float(seconds), 1), int(gaps)  # julianday() is a float of days


def _recent_likes(conn: sqlite3.Connection, last_event_time: str | None) -> list[tuple[str, int]]:
    """(minute, likes) over the CHART_MINUTES minutes up to the minute of
    `last_event_time` (event time: the chart follows the stream, not the
    wall clock), 0 for a minute without likes, from the first minute a run
    read events in (or the first with likes)."""
    try:
        last = micros(datetime.fromisoformat(last_event_time or ""))
        minutes = [minute_text(last - back * MICROS_PER_MINUTE) for back in range(CHART_MINUTES - 1, -1, -1)]
    except (ValueError, OverflowError):  # not a time, or too near year 1
        return []
    likes = dict(
        conn.execute(
            "SELECT minute, likes FROM likes_by_minute WHERE minute BETWEEN ? AND ?",
            (minutes[0], minutes[-1]),
        ).fetchall()
    )
    (covered_from,) = conn.execute(
        "SELECT min(first_minute) FROM runs WHERE last_minute >= ?", (minutes[0],)
    ).fetchone()
    # A minute before any run read events was no silence: it is left out.
    return list(
        dropwhile(
            lambda row: row[1] == 0 and (covered_from is None or row[0] < covered_from),
            ((minute, likes.get(minute, 0)) for minute in minutes),
        )
    )


def _seconds_since(at: str | None, now: float) -> float | None:
    """Seconds from `at` (local text, as the runs table keeps times) to `now`."""
    if at is None:
        return None
    # Commit times are stored as local text, like every time a user reads
    # in the database; across a change of daylight saving time this is off
    # by the hour until the next commit.
    return max(0.0, (datetime.fromtimestamp(now) - datetime.fromisoformat(at)).total_seconds())


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


def _rate(conn: sqlite3.Connection, run: Run | None, now: float) -> tuple[float | None, float]:
    """Events per second committed by the running run, and over how many
    seconds: the last RATE_SECONDS, or, for a younger run, from its first
    commit with events to its latest commit (the start-up before the first
    read nothing, and the second since the latest is a commit still to
    come: over a few seconds either would make the rate look low). None
    while no run is running."""
    if run is None or run.end_reason is not None:
        return None, RATE_SECONDS
    since, until = now - RATE_SECONDS, now
    started = datetime.fromisoformat(run.started_at).timestamp()
    if since >= started:
        (events,) = conn.execute(
            "SELECT coalesce(sum(events), 0) FROM recent_commits WHERE at >= ?", (since,)
        ).fetchone()
    else:
        # Only this run's commits: those of the run before a restart, still
        # in the last minute, would count twice over a young run's age.
        commits = conn.execute(
            "SELECT at, events FROM recent_commits WHERE at >= ? ORDER BY at", (started,)
        ).fetchall()
        first = next((i for i, (_, n) in enumerate(commits) if n), None)
        if first is not None and first + 1 < len(commits):
            # The first commit's events came in before it, since a moment
            # nobody can date: count what came after it.
            since = commits[first][0]
            events = sum(n for _, n in commits[first + 1 :])
        else:  # one commit yet: all there is, over the run's age
            since = started
            events = sum(n for _, n in commits)
        if commits and now - commits[-1][0] <= HEARTBEAT_SECONDS:  # a writer that commits as it should
            until = commits[-1][0]
    seconds = max(1.0, until - since)
    return float(events) / seconds, seconds


def no_database(db_path: Path, wrote: list[str]) -> str:
    """The one line of a status without a database; `wrote` names the
    header-only CSVs written where none existed."""
    if not wrote:
        return f"no database at {db_path}: is --db right? The CSVs in place were left as they are"
    return f"no database at {db_path} yet: start ./handle-stream first (wrote header-only {' '.join(wrote)})"


def describe(db_path: Path, status: Status) -> list[str]:
    """The status as lines for people, headed by the database's name."""
    age = "never" if status.seconds_since_commit is None else f"{status.seconds_since_commit:.1f} s ago"
    head = (
        f"{db_path}: last event {status.last_event_time or '-'}, last commit {age}, "
        f"{counted(status.events, 'event')}, {status.rejected:,} rejected {plural(status.rejected, 'line')}"
    )
    notes = []
    if status.word_counts_reset_at:
        notes.append(
            f"  top words counted since {status.word_counts_reset_at}: an upgrade changed how words"
            " are counted and could not convert older counts"
        )
    return [
        head,
        *_run_lines(status),
        *_chart_lines(status),
        *_missed_lines(status),
        *map(_gap_line, status.gaps),
        *notes,
    ]


def _chart_lines(status: Status) -> list[str]:
    """The likes of the last CHART_MINUTES minutes as one line of bars, then
    the count of the latest full minute (the last one is still in progress)."""
    recent = status.recent_likes
    if len(recent) < 2 or not any(likes for _, likes in recent):
        return []  # no full minute yet, or nothing to draw
    (first, _), (full, full_likes), (last, _) = recent[0], recent[-2], recent[-1]
    chart = bars([likes for _, likes in recent])
    return [f"  likes {first[11:]}..{last[11:]} |{chart}| {full_likes:,} in {full[11:]}"]


def bars(values: list[int]) -> str:
    """One character per value, its height in eighths of the largest; 0 is a blank."""
    top = max(values)
    return "".join(" " if v == 0 else BARS[min(len(BARS) - 1, (v * len(BARS) - 1) // top)] for v in values)


def _run_lines(status: Status) -> list[str]:
    run = status.run
    if run is None:
        return []
    if run.end_reason is not None:
        return [
            f"  handle-stream is not running: run {run.run_id} ended ({run.end_reason}) at {run.ended_at}"
        ]
    if status.died:
        last = f"its last commit at {run.last_commit_at}" if run.last_commit_at else "before its first commit"
        return [
            f"  handle-stream is not running: run {run.run_id} ended without a word"
            f" (killed or crashed), {last}"
        ]
    behind = "-" if status.lag_seconds is None else duration(status.lag_seconds)
    rate = 0.0 if status.events_per_second is None else status.events_per_second
    over = (
        "the last minute"
        if status.rate_seconds >= RATE_SECONDS
        else f"the last {duration(status.rate_seconds)}"
    )
    lines = [f"  run {run.run_id} since {run.started_at}: lag {behind}, {rate:,.0f} events/s over {over}"]
    if status.stale and status.seconds_since_commit is not None:
        silent = duration(status.seconds_since_commit)
        lines.append(f"  handle-stream has not committed for {silent}: is it still running?")
    if status.starved and status.seconds_since_events is not None:
        silent = duration(status.seconds_since_events)
        lines.append(f"  no events for {silent} while handle-stream runs: is ./bluesky stalled?")
    if run.far_off_likes:
        times = "once" if run.far_off_likes == 1 else f"{run.far_off_likes:,} times"
        lines.append(
            f"  event times jumped {times}: a like stamped over {LATE_MICROS // MICROS_PER_MINUTE} min from"
            " the stream's time and from the like before"
            " (it counts in its own minute; the lag follows the stream)"
        )
    return lines


def _missed_lines(status: Status) -> list[str]:
    if not status.missed_gaps:
        return []
    gaps = counted(status.missed_gaps, "gap")
    return [f"  event time missed in the last 24 h: {duration(status.missed_seconds)} in {gaps} between runs"]


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
