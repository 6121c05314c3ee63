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
from itertools import dropwhile, pairwise

from blueskypipe.flush import HEARTBEAT_SECONDS
from blueskypipe.places import Place
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
# ...and a minute in which no run read events (between runs) is a dot.
NOTHING_RAN = "·"


# A minute of the status chart and its likes; None: no run read events in it.
Minute = tuple[str, int | None]


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
    events_per_second: float | None = None  # over rate_seconds of commits (`rate`)
    rate_seconds: float = RATE_SECONDS
    run: Run | None = None  # the latest run
    seconds_since_events: float | None = None  # since a commit of the latest run last carried events
    gaps: list[Gap] = field(default_factory=list)  # latest first
    missed_seconds: float = 0.0  # event time in the gaps that ended in the last MISSED_WINDOW_SECONDS
    missed_gaps: int = 0
    # Whether a handle-stream holds the database's writer lock (lock.py); None: not known.
    writer_alive: bool | None = None
    # (minute, likes) of the CHART_MINUTES minutes up to the latest event's,
    # oldest first; the last one may still be in progress.
    recent_likes: list[Minute] = field(default_factory=list)
    partial_minutes: set[str] = field(default_factory=set)  # a run began or ended in them

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
    recent_likes, partial_minutes = _recent_likes(conn, last)
    return Status(
        recent_likes=recent_likes,
        partial_minutes=partial_minutes,
        last_event_time=last,
        seconds_since_commit=seconds_since(commit_at, now),
        seconds_since_events=seconds_since(events_at, now),
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


def _recent_likes(conn: sqlite3.Connection, last_event_time: str | None) -> tuple[list[Minute], set[str]]:
    """The chart's minutes (`chart`), read from the rollups."""
    minutes = chart_minutes(last_event_time)
    if not minutes:
        return [], set()
    likes = dict(
        conn.execute(
            "SELECT minute, likes FROM likes_by_minute WHERE minute BETWEEN ? AND ?",
            (minutes[0], minutes[-1]),
        ).fetchall()
    )
    spans = conn.execute(
        "SELECT first_minute, last_minute FROM runs WHERE first_minute <= ? AND last_minute >= ?",
        (minutes[-1], minutes[0]),
    ).fetchall()
    return chart(minutes, likes, spans)


def chart_minutes(last_event_time: str | None) -> list[str]:
    """The CHART_MINUTES minutes up to the minute of `last_event_time`
    (event time: the chart follows the stream, not the wall clock)."""
    try:
        last = micros(datetime.fromisoformat(last_event_time or ""))
        return [minute_text(last - back * MICROS_PER_MINUTE) for back in range(CHART_MINUTES - 1, -1, -1)]
    except (ValueError, OverflowError):  # not a time, or too near year 1
        return []


def chart(
    minutes: list[str], likes: dict[str, int], spans: list[tuple[str, str]]
) -> tuple[list[Minute], set[str]]:
    """`Status.recent_likes` over `minutes`, from the likes of each minute
    and the (first, last) minutes of the runs that overlap them, and which
    of them a run began or ended in (their counts are partial)."""
    shown = (
        (minute, likes.get(minute, 0) if minute in likes or any(a <= minute <= b for a, b in spans) else None)
        for minute in minutes
    )
    # The time before the first run read events is no outage: left out.
    return list(dropwhile(lambda row: row[1] is None, shown)), {minute for span in spans for minute in span}


def seconds_since(at: str | None, now: float) -> float | None:
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
    """The running run's `rate`, from its commits that carried events."""
    if run is None or run.end_reason is not None:
        return None, RATE_SECONDS
    started = datetime.fromisoformat(run.started_at).timestamp()
    # Only this run's commits: those of the run before a restart, still in
    # the last minute, would count twice over a young run's age. None from
    # after now: the clock was set back.
    commits = conn.execute(
        "SELECT at, events FROM recent_commits WHERE at >= max(?, ?) AND at <= ? ORDER BY at",
        (started, now - RATE_SECONDS, now),
    ).fetchall()
    return rate(commits, started, now)


def rate(commits: list[tuple[float, int]], started: float, now: float) -> tuple[float | None, float]:
    """Events per second of a running run begun at `started`, and over how
    many seconds, from its commits (Unix time, events; those with events,
    at most RATE_SECONDS old, oldest first); None while that is not known.

    A run past RATE_SECONDS old: the events of the last RATE_SECONDS. A
    younger one: those after its first commit (whose events came in since a
    moment nobody can date: the start-up read nothing), up to its latest
    commit while the next is not overdue (a commit still to come must not
    make the rate look low), else up to now. With fewer than two commits,
    or under a second between them, the rate is not known yet.
    """
    if now - RATE_SECONDS >= started:
        return sum(n for _, n in commits) / RATE_SECONDS, RATE_SECONDS
    if len(commits) < 2:
        return None, 0.0
    times = [at for at, _ in commits]
    usual_gap = sorted(b - a for a, b in pairwise(times))[(len(times) - 2) // 2]
    until = times[-1] if now - times[-1] <= 2 * usual_gap else now
    seconds = until - times[0]
    if seconds < 1:
        return None, 0.0
    return sum(n for _, n in commits[1:]) / seconds, seconds


def no_database(db_path: Place, wrote: list[str]) -> str:
    """The one line of a status without a database; `wrote` names the
    header-only CSVs written where none existed."""
    if not wrote:
        return f"no database at {db_path}: is --db right? The CSVs in place were left as they are"
    return f"no database at {db_path} yet: start ./handle-stream first (wrote header-only {' '.join(wrote)})"


def describe(db_path: Place | str, status: Status) -> list[str]:
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
    the count of the latest full minute (the last one is still in progress,
    and a run's first or last has only part of it)."""
    recent = status.recent_likes
    if len(recent) < 2 or not any(likes for _, likes in recent):
        return []  # nothing to draw, or one minute, not yet full
    (first, _), (full, full_likes), (last, _) = recent[0], recent[-2], recent[-1]
    count = ""
    if full_likes is not None and full not in status.partial_minutes:
        count = f" {full_likes:,} in {full[11:]}"
    return [f"  likes {first[11:]}..{last[11:]} |{bars([likes for _, likes in recent])}|{count}"]


def bars(values: list[int | None]) -> str:
    """One character per value, its height in eighths of the largest; 0 is
    a blank, None (no run read events then) a dot."""
    top = max(v or 0 for v in values)
    return "".join(
        NOTHING_RAN if v is None else " " if v == 0 else BARS[min(len(BARS) - 1, (v * len(BARS) - 1) // top)]
        for v in values
    )


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
    if status.events_per_second is None:
        speed = "rate known after its second commit"
    else:
        young = status.rate_seconds < RATE_SECONDS
        over = f"the last {duration(status.rate_seconds)}" if young else "the last minute"
        speed = f"{status.events_per_second:,.0f} events/s over {over}"
    lines = [f"  run {run.run_id} since {run.started_at}: lag {behind}, {speed}"]
    if status.stale and status.seconds_since_commit is not None:
        silent = duration(status.seconds_since_commit)
        lines.append(f"  handle-stream has not committed for {silent}: is it still running?")
    if status.starved and status.seconds_since_events is not None:
        silent = duration(status.seconds_since_events)
        lines.append(f"  no events for {silent} while handle-stream runs: is ./bluesky stalled?")
    if run.far_off_likes:
        times = "once" if run.far_off_likes == 1 else counted(run.far_off_likes, "time")
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
