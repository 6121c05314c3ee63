"""periodic's status in-process: a real database written by Store, exact times."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from blueskypipe import db
from blueskypipe.health import (
    NO_EVENTS_SECONDS,
    STALE_SECONDS,
    Gap,
    Status,
    describe,
    duration,
    lag,
    rate,
    read,
)
from blueskypipe.records import Batch, EndReason
from blueskypipe.store import Store

# Local time, as the runs table and the event timestamps are.
START = datetime(2025, 3, 16, 12, 0, 0)


def at(seconds: float) -> float:
    """Unix time `seconds` after START."""
    return (START + timedelta(seconds=seconds)).timestamp()


def a_run(tmp_path: Path, end: EndReason | None = None) -> Path:
    """A run that began at START and committed 600 events 10 s later, the
    last of them stamped 12:00:05; ended at 20 s by `end`, if given."""
    path = tmp_path / "bluesky.db"
    now = [at(0)]
    store = Store(path, clock=lambda: now[0])
    store.begin_run()
    now[0] = at(10)
    store.write(
        Batch(lines=600, first_event_time="2025-03-16T11:59:00", last_event_time="2025-03-16T12:00:05")
    )
    if end is not None:
        now[0] = at(20)
        store.end_run(end)
    store.close()
    return path


def status_at(path: Path, now: float) -> Status:
    with db.snapshot(path) as conn:
        return read(conn, now)


def test_a_running_pipeline_shows_its_lag_and_rate(tmp_path: Path) -> None:
    status = status_at(a_run(tmp_path), at(40))
    assert status is not None
    assert (status.lag_seconds, status.seconds_since_commit, status.events_per_second) == (35.0, 30.0, None)
    assert not status.stale
    assert describe(Path("bluesky.db"), status)[:2] == [
        "bluesky.db: last event 2025-03-16T12:00:05, last commit 30.0 s ago, 600 events, 0 rejected lines",
        "  run 1 since 2025-03-16 12:00:00: lag 35.0 s, rate known after its second commit",
    ]


def test_a_run_silent_for_longer_than_stale_seconds_is_named(tmp_path: Path) -> None:
    db = a_run(tmp_path)
    assert not status_at(db, at(10 + STALE_SECONDS)).stale
    status = status_at(db, at(10 + 190))
    assert status is not None and status.stale
    assert "  handle-stream has not committed for 3 min 10 s: is it still running?" in describe(db, status)


def test_a_run_that_ended_is_never_stale(tmp_path: Path) -> None:
    db = a_run(tmp_path, end=EndReason.END_OF_INPUT)
    status = status_at(db, at(10_000))
    assert status is not None and not status.stale
    assert describe(db, status)[1:] == [
        "  handle-stream is not running: run 1 ended (end of input) at 2025-03-16 12:00:20"
    ]


def test_lag_honours_an_offset_and_ignores_what_is_not_a_time() -> None:
    utc_now = datetime(2025, 3, 16, 12, 0, 5, tzinfo=UTC).timestamp()
    assert lag("2025-03-16T13:00:00+01:00", utc_now) == 5.0
    assert lag("2025-03-16T12:00:00", at(2.5)) == 2.5
    assert lag("20250316T120000", at(2.5)) == 2.5
    assert lag("yesterday", at(0)) is None
    assert lag(None, at(0)) is None


def test_a_gap_whose_times_sqlite_cannot_read_is_named_without_a_length() -> None:
    gaps = [Gap(1, "20250316T120000", "20250316T120500", None, "killed"), Gap(2, "a", "b", 61.0, "signal")]
    lines = describe(Path("b.db"), Status("x", 1.0, 1, 0, gaps=gaps))
    assert "  gap in event time: 20250316T120000 .. 20250316T120500, after run 1 ended (killed)" in lines
    assert "  gap in event time: a .. b (1 min 1 s), after run 2 ended (signal)" in lines


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.84, "0.8 s"),
        (59.94, "59.9 s"),
        (60, "1 min 0 s"),
        (190.4, "3 min 10 s"),
        (7_500, "2 h 5 min"),
        (3 * 86_400 + 4 * 3_600 + 59, "3 d 4 h"),
        (-5, "-5.0 s"),
    ],
)
def test_durations_read_as_people_say_them(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_a_run_that_commits_without_events_names_a_stalled_source(tmp_path: Path) -> None:
    path = a_run(tmp_path)  # events committed at 10 s
    now = [at(100)]
    store = Store(path, clock=lambda: now[0])
    store.run_id = 1  # the same run, going on: a heartbeat commit without events
    store.write(Batch())
    store.close()
    assert not status_at(path, at(10 + NO_EVENTS_SECONDS)).starved  # events a minute ago: not yet
    status = status_at(path, at(130))
    assert status.starved and not status.stale
    assert "  no events for 2 min 0 s while handle-stream runs: is ./bluesky stalled?" in describe(
        path, status
    )


def test_a_run_that_never_had_an_event_counts_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "bluesky.db"
    store = Store(path, clock=lambda: at(0))
    store.begin_run()
    store.close()
    assert status_at(path, at(NO_EVENTS_SECONDS + 1)).seconds_since_events == NO_EVENTS_SECONDS + 1


def test_the_event_time_missed_between_runs_in_the_last_day(tmp_path: Path) -> None:
    path = a_run(tmp_path, end=EndReason.SIGNAL)  # events up to 12:00:05
    store = Store(path, clock=lambda: at(200))
    store.begin_run()
    store.write(Batch(lines=5, first_event_time="2025-03-16T12:03:05", last_event_time="2025-03-16T12:03:06"))
    store.close()
    line = "  event time missed in the last 24 h: 3 min 0 s in 1 gap between runs"
    assert line in describe(path, status_at(path, at(3600)))
    # A day later that gap is no longer counted.
    later = status_at(path, at(25 * 3600 + 200))
    assert (later.missed_seconds, later.missed_gaps) == (0.0, 0)
    assert not any("in the last 24 h" in text for text in describe(path, later))


def test_missed_time_is_clipped_to_the_day_and_a_gap_back_in_time_misses_nothing(tmp_path: Path) -> None:
    path = a_run(tmp_path, end=EndReason.SIGNAL)  # events up to 12:00:05
    for first, last in (
        ("2025-03-16T14:00:05", "2025-03-16T14:00:06"),
        ("2025-03-16T13:00:00", "2025-03-16T13:00:01"),
    ):
        store = Store(path, clock=lambda: at(7200))
        store.begin_run()
        store.write(Batch(lines=1, first_event_time=first, last_event_time=last))
        store.end_run(EndReason.SIGNAL)
        store.close()
    # Gaps: 12:00:05 .. 14:00:05 (2 h), then back to 13:00:00 (a clock set back).
    within = status_at(path, at(2 * 3600 + 3600))  # 15:00: the whole 2 h gap is in the last day
    assert (within.missed_seconds, within.missed_gaps) == (7200.0, 1)
    clipped = status_at(path, at(25 * 3600))  # the next day 13:00: only its last hour
    assert (clipped.missed_seconds, clipped.missed_gaps) == (3605.0, 1)


def test_the_rate_of_a_run_younger_than_a_minute_is_its_own_over_its_age(tmp_path: Path) -> None:
    # The run before a restart committed 3,000 events seconds before this
    # run began: they must not count over the young run's age.
    path = tmp_path / "bluesky.db"
    now = [at(0)]
    first = Store(path, clock=lambda: now[0])
    first.begin_run()
    now[0] = at(5)
    first.write(Batch(lines=3000, last_event_time="2025-03-16T12:00:05"))
    first.end_run(EndReason.SIGNAL)
    first.close()
    now[0] = at(10)  # a restart, 5 s later
    second = Store(path, clock=lambda: now[0])
    second.begin_run()
    for second_of_run in range(1, 21):  # 1,500 events/s for 20 s
        now[0] = at(10 + second_of_run)
        second.write(Batch(lines=1500, last_event_time="2025-03-16T12:00:30"))
    second.close()
    status = status_at(path, at(30))
    assert status.events_per_second == 1500.0


def commits_each_second(path: Path, seconds: range, lines: int = 1500) -> None:
    """A run begun at START that commits `lines` events at each of `seconds` after it."""
    now = [at(0)]
    store = Store(path, clock=lambda: now[0])
    store.begin_run()
    for second in seconds:
        now[0] = at(second)
        store.write(Batch(lines=lines, last_event_time="2025-03-16T12:00:10"))
    store.close()


def test_a_young_run_is_timed_from_its_first_commit_not_its_start_up(tmp_path: Path) -> None:
    # 3 s of start-up (word tools, a client that has not written yet), then
    # 1,500 events/s: the first status must not say 1,100.
    path = tmp_path / "bluesky.db"
    commits_each_second(path, range(4, 11))
    status = status_at(path, at(11))
    status.writer_alive = True
    assert (status.events_per_second, status.rate_seconds) == (1500.0, 6.0)
    assert describe(path, status)[1].endswith(", 1,500 events/s over the last 6.0 s")
    older = status_at(path, at(90))
    assert older.rate_seconds == 60, "a run past a minute old is timed over the last minute"


@pytest.mark.parametrize(
    ("commits", "now", "expected"),
    [
        ([(13.0, 1500)], 14.0, (None, 0.0)),  # one commit: its events came in since when?
        ([(13.0, 300), (13.2, 300)], 13.5, (None, 0.0)),  # a backlog read in 0.2 s: too short to tell
        ([(float(t), 1500) for t in range(4, 21)], 21.5, (1500.0, 16.0)),  # the next commit is not due
        # Nothing committed for 14 s after 20: the rate falls at once, as it is over until now.
        ([(float(t), 1500) for t in range(4, 21)], 34.0, (16 * 1500 / 30, 30.0)),
        ([(float(t), 1500) for t in range(41, 101)], 100.0, (1500.0, 60)),  # past a minute: the last one
    ],
)
def test_the_rate_of_a_run(
    commits: list[tuple[float, int]], now: float, expected: tuple[float | None, float]
) -> None:
    assert rate(commits, started=0.0, now=now) == expected


def test_commits_stamped_after_now_do_not_count(tmp_path: Path) -> None:
    """The clock was set back 30 s: what it committed "later" is not in the last minute."""
    path = tmp_path / "bluesky.db"
    commits_each_second(path, range(100, 161))
    assert status_at(path, at(130)).events_per_second == 31 * 1500 / 60


def test_minutes_between_runs_are_dots_and_a_runs_first_minute_is_not_full(tmp_path: Path) -> None:
    path = tmp_path / "bluesky.db"
    now = [at(0)]
    for first, last in (("12:00", "12:02"), ("12:05", "12:06")):
        store = Store(path, clock=lambda: now[0])
        store.begin_run()
        store.write(
            Batch(
                likes_by_user_minute={f"2025-03-16 {first}": Counter({"did:plc:a": 80})},
                first_event_time=f"2025-03-16T{first}:50",
                last_event_time=f"2025-03-16T{last}:05",
                first_minute=f"2025-03-16 {first}",
                last_minute=f"2025-03-16 {last}",
            )
        )
        store.close()
    status = status_at(path, at(400))
    (line,) = [text for text in describe(path, status) if text.startswith("  likes ")]
    # 12:05 is run 2's first minute, begun at 12:05:50: its count is not a full minute's.
    assert line == "  likes 12:00..12:06 |█  ··█ |"


def test_the_chart_begins_with_the_first_minute_any_run_read(tmp_path: Path) -> None:
    path = tmp_path / "bluesky.db"
    store = Store(path, clock=lambda: at(0))
    store.begin_run()
    likes = {"2025-03-16 12:00": Counter({"did:plc:a": 40}), "2025-03-16 12:02": Counter({"did:plc:a": 80})}
    store.write(
        Batch(
            likes_by_user_minute=likes,
            first_event_time="2025-03-16T12:00:30",
            last_event_time="2025-03-16T12:02:10",
            first_minute="2025-03-16 12:00",
            last_minute="2025-03-16 12:02",
        )
    )
    store.close()
    status = status_at(path, at(10))
    assert [minute for minute, _ in status.recent_likes] == [
        "2025-03-16 12:00",
        "2025-03-16 12:01",
        "2025-03-16 12:02",
    ]
    (line,) = [text for text in describe(path, status) if text.startswith("  likes ")]
    assert line == "  likes 12:00..12:02 |▄ █| 0 in 12:01", "a minute of the run without likes is a hole"


def test_a_run_in_its_first_minute_has_no_full_minute_to_chart(tmp_path: Path) -> None:
    path = tmp_path / "bluesky.db"
    store = Store(path, clock=lambda: at(0))
    store.begin_run()
    store.write(
        Batch(
            likes_by_user_minute={"2025-03-16 12:00": Counter({"did:plc:a": 40})},
            first_event_time="2025-03-16T12:00:01",
            last_event_time="2025-03-16T12:00:30",
        )
    )
    store.close()
    status = status_at(path, at(31))
    assert status.recent_likes == [("2025-03-16 12:00", 40)], "no minute before the run began"
    assert not any(text.startswith("  likes ") for text in describe(path, status))


def test_an_open_run_whose_writer_lock_is_free_died_without_a_word(tmp_path: Path) -> None:
    path = a_run(tmp_path)  # begun, committed at 10 s, never ended
    status = status_at(path, at(12))
    status.writer_alive = False
    assert status.died and not status.running and not status.stale
    assert describe(path, status)[1:] == [
        "  handle-stream is not running: run 1 ended without a word (killed or crashed),"
        " its last commit at 2025-03-16 12:00:10.000"
    ]
    status.writer_alive = True
    assert not status.died and status.running
    assert describe(path, status)[1].startswith("  run 1 since 2025-03-16 12:00:00: lag ")


def test_the_status_charts_the_last_half_hour_of_likes(tmp_path: Path) -> None:
    path = tmp_path / "bluesky.db"
    store = Store(path, clock=lambda: at(0))
    store.begin_run()
    # 12:00..12:40, eight heights over and over; 12:20 silent (a hole);
    # 12:40 is the minute in progress.
    per_minute = {f"2025-03-16 12:{m:02d}": (m % 8 + 1) * 100 for m in range(41) if m != 20}
    store.write(
        Batch(
            likes_by_user_minute={minute: Counter({"did:plc:a": n}) for minute, n in per_minute.items()},
            last_event_time="2025-03-16T12:40:05",
            first_minute="2025-03-16 12:00",
            last_minute="2025-03-16 12:40",
        )
    )
    store.close()
    status = status_at(path, at(10))
    assert [minute for minute, _ in status.recent_likes] == [f"2025-03-16 12:{m:02d}" for m in range(11, 41)]
    (line,) = [text for text in describe(path, status) if text.startswith("  likes ")]
    assert line == "  likes 12:11..12:40 |▄▅▆▇█▁▂▃▄ ▆▇█▁▂▃▄▅▆▇█▁▂▃▄▅▆▇█▁| 800 in 12:39"


def test_a_status_without_likes_has_no_chart(tmp_path: Path) -> None:
    status = status_at(a_run(tmp_path), at(40))
    assert not any(text.startswith("  likes ") for text in describe(Path("b.db"), status))
