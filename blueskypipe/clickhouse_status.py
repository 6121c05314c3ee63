"""periodic's status on ClickHouse: health.py's `Status`, read from `deltas`.

Each batch's run rows (clickhouse.py) hold what SQLite's runs and
recent_commits tables hold, so the status follows health.py's rules and
health.describe words it: a line means on ClickHouse what it means on
SQLite. There is one status per share, since each share is one writer's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING

from blueskypipe import health
from blueskypipe.clickhouse import result
from blueskypipe.db import local_now
from blueskypipe.health import GAPS_SHOWN, MISSED_WINDOW_SECONDS, RATE_SECONDS, Gap, Run, Status
from blueskypipe.records import EndReason

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

# The forms SQLite's julianday() reads, which the runs' gaps are measured
# with on SQLite: a date, a time of day to the minute or finer, an offset.
_JULIAN = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?)?(?:([+-])(\d\d):(\d\d)|Z)?"
)


@dataclass
class _Run:
    """A share's run, summed from its run rows."""

    run: int
    started: str
    ended_at: str | None
    end: str | None
    first_event_time: str | None
    last_event_time: str | None
    first_minute: str | None
    last_minute: str | None
    far_off_likes: int
    last_commit: float | None  # Unix seconds
    last_events_commit: float | None  # of the last commit that carried events


def shares(client: Client) -> list[str]:
    """The shares that have runs, in name order."""
    rows = result(client, "SELECT DISTINCT share FROM deltas WHERE kind = 'run' ORDER BY share")
    return [share for (share,) in rows]


def read(client: Client, share: str, now: float, writer_alive: bool | None) -> Status:
    """The status of `share` at `now` (Unix seconds)."""
    runs = _runs(client, share)
    ((events, rejected),) = result(
        client,
        "SELECT sumIf(n, k1 = 'events'), sumIf(n, k1 = 'rejected') FROM deltas"
        " WHERE kind = 'count' AND share = {share:String}",
        share=share,
    )
    last = next((r.last_event_time for r in reversed(runs) if r.last_event_time is not None), None)
    committed = next((r.last_commit for r in reversed(runs) if r.last_commit is not None), None)
    latest = runs[-1] if runs else None
    run = None if latest is None else _as_run(latest)
    events_at = None
    if latest is not None:
        events_at = latest.started if latest.last_events_commit is None else _local(latest.last_events_commit)
    gaps = _gaps(runs)
    missed_seconds, missed_gaps = _missed(gaps, now)
    rate, rate_seconds = _rate(client, share, run, now)
    minutes = health.chart_minutes(last)
    recent_likes: list[health.Minute] = []
    partial: set[str] = set()
    if minutes:
        recent_likes, partial = health.chart(
            minutes, _likes(client, share, minutes[0], minutes[-1]), _spans(runs, minutes[0], minutes[-1])
        )
    return Status(
        recent_likes=recent_likes,
        partial_minutes=partial,
        last_event_time=last,
        seconds_since_commit=health.seconds_since(None if committed is None else _local(committed), now),
        seconds_since_events=health.seconds_since(events_at, now),
        missed_seconds=missed_seconds,
        missed_gaps=missed_gaps,
        events=int(events),
        rejected=int(rejected),
        lag_seconds=health.lag(last, now),
        events_per_second=rate,
        rate_seconds=rate_seconds,
        run=run,
        gaps=gaps[::-1][:GAPS_SHOWN],
        writer_alive=writer_alive,
    )


def _runs(client: Client, share: str) -> list[_Run]:
    rows = result(
        client,
        """SELECT run, anyIf(k2, k1 = 'started'), anyIf(k2, k1 = 'ended_at'), anyIf(k2, k1 = 'end'),
                  argMinIf(k2, batch, k1 = 'first_event_time'), argMaxIf(k2, batch, k1 = 'last_event_time'),
                  argMinIf(k2, batch, k1 = 'first_minute'), argMaxIf(k2, batch, k1 = 'last_minute'),
                  sumIf(n, k1 = 'far_off_likes'),
                  argMaxIf(toFloat64OrZero(k2), batch, k1 = 'commit'), countIf(k1 = 'commit'),
                  argMaxIf(toFloat64OrZero(k2), batch, k1 = 'commit' AND n > 0),
                  countIf(k1 = 'commit' AND n > 0)
           FROM deltas WHERE kind = 'run' AND share = {share:String}
           GROUP BY run ORDER BY run""",
        share=share,
    )
    runs = []
    for run, started, ended_at, end, *times, far_off, last, commits, last_with_events, with_events in rows:
        first_event, last_event, first_minute, last_minute = (value or None for value in times)
        runs.append(
            _Run(
                int(run),
                started,
                ended_at or None,
                end or None,
                first_event,
                last_event,
                first_minute,
                last_minute,
                int(far_off),
                last if commits else None,
                last_with_events if with_events else None,
            )
        )
    return runs


def _as_run(run: _Run) -> Run:
    """The latest run, open (running, or killed and not yet found out) while it has no end."""
    commit = None if run.last_commit is None else _local(run.last_commit)
    return Run(run.run, run.started, run.ended_at, run.end, run.far_off_likes, commit)


def _local(at: float) -> str:
    return local_now(at, "milliseconds")  # as SQLite's runs table keeps commit times


def _gaps(runs: list[_Run]) -> list[Gap]:
    """From the last event of each run to the first of the next run that
    had one, oldest first (SQLite's run_gaps)."""
    seen = [run for run in runs if run.first_event_time is not None]
    return [
        Gap(
            before.run,
            before.last_event_time or "",
            after.first_event_time or "",
            _seconds_between(before.last_event_time, after.first_event_time),
            before.end or EndReason.KILLED.value,  # as SQLite's next run records an open one
        )
        for before, after in pairwise(seen)
    ]


def _julian(text: str | None) -> float | None:
    """julianday(text), as SQLite computes it: whole milliseconds from the
    date, the time of day and an offset (moved to UTC), in days; None where
    SQLite reads no time. The status's gaps and missed time are sums and
    differences of these, in SQLite's order, so that they round alike."""
    found = _JULIAN.fullmatch(text or "")
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = found.groups()
    y, m = int(year), int(month)
    if m <= 2:
        y, m = y - 1, m + 12
    a = y // 100
    b = 2 - a + a // 4
    days = 36525 * (y + 4716) // 100 + 306001 * (m + 1) // 10000 + int(day) + b - 1524.5
    ms = int(days * 86_400_000)
    # The fraction digit by digit in a double, as SQLite reads it.
    fraction_value, scale = 0.0, 1.0
    for digit in fraction or "":
        fraction_value, scale = fraction_value * 10.0 + int(digit), scale * 10.0
    seconds = int(second or 0) + fraction_value / scale
    ms += int(hour or 0) * 3_600_000 + int(minute or 0) * 60_000 + int(seconds * 1000 + 0.5)
    if sign:
        ms -= int(f"{sign}1") * (int(off_h) * 60 + int(off_m)) * 60_000
    return ms / 86_400_000.0


def _seconds_between(start: str | None, end: str | None) -> float | None:
    a, b = _julian(start), _julian(end)
    return None if a is None or b is None else round((b - a) * 86400, 1)


def _missed(gaps: list[Gap], now: float) -> tuple[float, int]:
    """health's missed time: the gaps' event time within the last
    MISSED_WINDOW_SECONDS, and how many gaps that is."""
    since = _julian(datetime.fromtimestamp(now - MISSED_WINDOW_SECONDS).isoformat())
    until = _julian(datetime.fromtimestamp(now).isoformat())
    assert since is not None and until is not None
    days, count = 0.0, 0
    for gap in gaps:
        start, end = _julian(gap.start), _julian(gap.end)
        if start is None or end is None:
            continue
        start, end = max(start, since), min(end, until)
        if end > start:
            days += end - start
            count += 1
    return round(days * 86400, 1), count


def _rate(client: Client, share: str, run: Run | None, now: float) -> tuple[float | None, float]:
    """health's rate of the running run, from its commits that carried events."""
    if run is None or run.end_reason is not None:
        return None, RATE_SECONDS
    started = datetime.fromisoformat(run.started_at).timestamp()
    commits = result(
        client,
        """SELECT toFloat64OrZero(k2) AS at, n FROM deltas
           WHERE kind = 'run' AND k1 = 'commit' AND share = {share:String} AND run = {run:UInt32} AND n > 0
             AND at >= {since:Float64} AND at <= {now:Float64}
           ORDER BY at""",
        share=share,
        run=run.run_id,
        since=max(started, now - RATE_SECONDS),
        now=now,
    )
    return health.rate([(float(at), int(n)) for at, n in commits], started, now)


def _likes(client: Client, share: str, first: str, last: str) -> dict[str, int]:
    """The share's likes of each minute from first to last."""
    return {
        minute: int(likes)
        for minute, likes in result(
            client,
            "SELECT k1, sum(n) FROM deltas WHERE kind = 'minute' AND share = {share:String}"
            " AND k1 BETWEEN {first:String} AND {last:String} GROUP BY k1",
            share=share,
            first=first,
            last=last,
        )
    }


def _spans(runs: list[_Run], first: str, last: str) -> list[tuple[str, str]]:
    """The (first, last) minutes of the runs that overlap first..last."""
    return [
        (run.first_minute, run.last_minute)
        for run in runs
        if run.first_minute is not None
        and run.last_minute is not None
        and run.first_minute <= last
        and run.last_minute >= first
    ]
