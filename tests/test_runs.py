"""Runs of handle-stream, the gaps between them, and periodic's health lines."""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

from tests.helpers import Pipeline, committed, event, wait_for


def runs(db: Path) -> list[dict[str, object]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("select * from runs order by run_id")]


def likes(start: datetime, n: int, step: timedelta = timedelta(milliseconds=100)) -> list[bytes]:
    return [event((start + i * step).isoformat(), repo=f"did:plc:u{i % 9}") for i in range(n)]


START = datetime(2025, 3, 16, 12, 0, 0)


def test_a_run_ending_with_its_input_is_recorded(pipeline: Pipeline) -> None:
    lines = likes(START, 300)
    pipeline.ingest([*lines, b"not json"])
    (run,) = runs(pipeline.db)
    assert run["end_reason"] == "end of input"
    assert (run["lines"], run["events"], run["rejected"]) == (301, 300, 1)
    assert run["first_event_time"] == START.isoformat()
    assert run["last_event_time"] == (START + 299 * timedelta(milliseconds=100)).isoformat()
    assert run["started_at"] <= run["ended_at"]  # type: ignore[operator]


def test_ctrl_c_closes_the_run_as_ended_by_a_signal(pipeline: Pipeline) -> None:
    proc = pipeline.running(likes(START, 200))
    (run,) = runs(pipeline.db)
    assert run["end_reason"] is None and run["ended_at"] is None  # still running
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    (run,) = runs(pipeline.db)
    assert (run["end_reason"], run["events"]) == ("signal", 200)
    assert run["ended_at"] is not None


def test_a_killed_run_is_found_at_the_next_start_and_its_gap_named(pipeline: Pipeline) -> None:
    proc = pipeline.running(likes(START, 200))
    proc.kill()
    proc.wait(timeout=30)
    # Restarted 10 minutes of event time later.
    later = START + timedelta(minutes=10)
    pipeline.ingest(likes(later, 100))
    first, second = runs(pipeline.db)
    assert (first["end_reason"], first["events"]) == ("killed", 200)
    assert (second["end_reason"], second["events"]) == ("end of input", 100)

    with sqlite3.connect(pipeline.db) as conn:
        gap = conn.execute("select gap_start, gap_end, seconds, after_run_ended_by from run_gaps").fetchall()
        partial = conn.execute("select time, likes, why from partial_minutes").fetchall()
    last_before = START + 199 * timedelta(milliseconds=100)
    assert gap == [(last_before.isoformat(), later.isoformat(), 580.1, "killed")]
    # Each run saw part of one minute: its first and its last.
    assert partial == [
        ("2025-03-16 12:00:00", 200, "run 1 started; run 1 ended (killed)"),
        ("2025-03-16 12:10:00", 100, "run 2 started; run 2 ended (end of input)"),
    ]
    status = pipeline.periodic().stdout.decode()
    assert (
        f"gap in event time: {last_before.isoformat()} .. {later.isoformat()} (9 min 40 s),"
        " after run 1 ended (killed)" in status
    )
    assert "handle-stream is not running: run 2 ended (end of input)" in status
    # likes-per-minutes.csv keeps its two columns; the edges are in the view.
    assert pipeline.csv("likes-per-minutes.csv")[0] == ["time", "likes"]


def test_a_run_without_events_leaves_no_gap(pipeline: Pipeline) -> None:
    pipeline.ingest(likes(START, 10))
    pipeline.ingest([b"not an event"])
    pipeline.ingest(likes(START + timedelta(minutes=1), 10))
    assert [run["events"] for run in runs(pipeline.db)] == [10, 0, 10]
    with sqlite3.connect(pipeline.db) as conn:
        assert conn.execute("select after_run, before_run from run_gaps").fetchall() == [(1, 3)]


def test_a_run_that_got_no_input_says_so_and_leaves_no_run(pipeline: Pipeline) -> None:
    pipeline.ingest(likes(START, 10))
    result = pipeline.ingest([])  # as `./bluesky | ./handle-stream` without ./bluesky
    said = result.stderr.decode().splitlines()
    assert "handle-stream: no input came: is the firehose client there? (./bluesky | ./handle-stream)" in said
    assert [run["events"] for run in runs(pipeline.db)] == [10]
    pipeline.ingest(likes(START + timedelta(minutes=1), 10))
    assert [run["events"] for run in runs(pipeline.db)] == [10, 10]


def test_status_shows_lag_and_rate_while_the_stream_runs(pipeline: Pipeline) -> None:
    # Events stamped as ./bluesky stamps them: this machine's clock, now.
    newest = datetime.now() - timedelta(seconds=5)
    stream = likes(newest - timedelta(seconds=59.9), 600)  # the last one at `newest`
    proc = pipeline.running(stream[:300])
    # A rate needs two commits a second or more apart.
    time.sleep(1.1)
    assert proc.stdin is not None
    proc.stdin.write(b"".join(line + b"\n" for line in stream[300:]))
    proc.stdin.flush()
    wait_for(lambda: committed(pipeline.db) == 600)
    status = pipeline.periodic().stdout.decode()
    found = re.search(
        r"run 1 since [\d: -]+: lag ([\d.]+) s, ([\d,]+) events/s over the last (?:minute|[\d.]+ s)", status
    )
    assert found, status
    assert 5 <= float(found[1]) < 5 + 60  # the slack is this machine's, not the pipeline's
    assert int(found[2].replace(",", "")) > 0
    assert "has not committed" not in status
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def test_a_start_that_fails_after_the_run_began_ends_the_run_as_an_error(pipeline: Pipeline) -> None:
    pipeline.ingest(likes(START, 10))
    with sqlite3.connect(pipeline.db) as conn:
        # Any failure between beginning the run and reading stdin will do;
        # this one makes taking the saved windows fail.
        conn.execute(
            "create trigger restoring before delete on like_windows"
            " begin select raise(abort, 'a restore is in progress'); end"
        )
    result = pipeline.ingest(likes(START + timedelta(minutes=1), 10), check=False)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        f"handle-stream: error: cannot read window state from {pipeline.db}: a restore is in progress"
    ]
    first, second = runs(pipeline.db)
    assert first["end_reason"] == "end of input"
    assert (second["end_reason"], second["events"]) == ("error", 0)
    assert second["ended_at"] is not None


def test_partial_minutes_agree_with_the_counts_for_any_timestamp_form(pipeline: Pipeline) -> None:
    # The basic ISO-8601 form: accepted by the parser, counted under its minute.
    pipeline.ingest([event("20250316T132653", repo="did:plc:basic")])
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 13:26:00", "1"]]
    with sqlite3.connect(pipeline.db) as conn:
        partial = conn.execute("select time, likes, why from partial_minutes").fetchall()
    assert partial == [("2025-03-16 13:26:00", 1, "run 1 started; run 1 ended (end of input)")]
