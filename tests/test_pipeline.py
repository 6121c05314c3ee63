"""End to end: real ./handle-stream and ./periodic through real pipes."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time

import orjson
import pytest

from blueskypipe.db import SCHEMA_VERSION
from tests import reference
from tests.helpers import ROOT, SAMPLE, Pipeline, did, event, post, query, wait_for
from tests.streams import Qualifying, stream

CSVS = ["likes-per-minutes.csv", "fast-likers.csv", "top-10-word.csv", "posts-per-language.csv"]


def expected_csvs(lines: list[bytes], word_sets: list[Qualifying]) -> dict[str, list[list[str]]]:
    events = reference.valid_events(lines)
    return {
        "likes-per-minutes.csv": reference.likes_per_minute(events),
        "fast-likers.csv": reference.fast_likers(events),
        "top-10-word.csv": reference.top_words(word_sets),
        "posts-per-language.csv": reference.posts_per_language(events),
    }


def test_sample_replay_matches_the_reference(pipeline: Pipeline) -> None:
    lines = SAMPLE.read_bytes().splitlines()
    pipeline.ingest(lines)
    pipeline.periodic()
    expected = expected_csvs(lines, [])
    for name in CSVS:
        assert pipeline.csv(name) == expected[name], name
    # A hand count of the sample: 267 likes across two minutes, 23 posts in English.
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [
        ["2025-03-16 13:26:00", "205"],
        ["2025-03-16 13:27:00", "62"],
    ]
    assert pipeline.csv("posts-per-language.csv")[1] == ["en", "23"]


@pytest.mark.parametrize("batch_size", ["1", "777", "100000"])
def test_generated_stream_matches_the_reference_at_any_batch_size(
    pipeline: Pipeline, batch_size: str
) -> None:
    lines, word_sets = stream(seed=7, n=20_000)
    pipeline.ingest(lines, "--batch-size", batch_size)
    pipeline.periodic()
    expected = expected_csvs(lines, word_sets)
    assert len(expected["fast-likers.csv"]) > 1, "the stream must plant fast likers"
    assert len(expected["top-10-word.csv"]) == 11
    for name in CSVS:
        assert pipeline.csv(name) == expected[name], name


def test_csv_bytes_are_exact(pipeline: Pipeline) -> None:
    lines = [event("2025-03-16T13:26:53"), event("2025-03-16T13:27:00.5")]
    pipeline.ingest(lines)
    pipeline.periodic()
    raw = (pipeline.metrics / "likes-per-minutes.csv").read_bytes()
    assert raw == b"time,likes\n2025-03-16 13:26:00,1\n2025-03-16 13:27:00,1\n"
    assert (pipeline.metrics / "fast-likers.csv").read_bytes() == b"user_id,likes\n"


def test_restart_keeps_counting_and_keeps_the_window(pipeline: Pipeline) -> None:
    lines, word_sets = stream(seed=3, n=12_000)
    half = len(lines) // 2
    pipeline.ingest(lines[:half])
    pipeline.ingest(lines[half:])
    pipeline.periodic()
    expected = expected_csvs(lines, word_sets)
    for name in CSVS:
        assert pipeline.csv(name) == expected[name], name


def test_views_show_what_the_csvs_show(pipeline: Pipeline) -> None:
    lines, _ = stream(seed=5, n=5_000)
    pipeline.ingest(lines)
    pipeline.periodic()
    with sqlite3.connect(pipeline.db) as conn:
        rows = conn.execute("select * from metric_fast_likers").fetchall()
    assert [[u, str(n)] for u, n in rows] == pipeline.csv("fast-likers.csv")[1:]


def test_calendar_minute_bursts_are_fast_likers(pipeline: Pipeline) -> None:
    """Cross-check: >=50 likes in one calendar minute implies a fast liker with at least that many."""
    lines, _ = stream(seed=11, n=30_000)
    pipeline.ingest(lines)
    with sqlite3.connect(pipeline.db) as conn:
        heavy = conn.execute(
            "select user_id, max(likes) from likes_by_user_minute where likes >= 50 group by user_id"
        ).fetchall()
        fast = dict(conn.execute("select user_id, likes from fast_likers").fetchall())
    assert heavy, "the stream must have users with 50 likes in a calendar minute"
    for user, likes in heavy:
        assert fast.get(user, 0) >= likes, user


def test_retention_drops_old_user_minutes(pipeline: Pipeline) -> None:
    # Retention counts back from the stream's time, the median of the latest
    # 101 likes: 60 likes a step put it in the last step.
    lines = [
        event(f"2025-03-16T{h:02d}:{m:02d}:{s:02d}")
        for h in (10, 11, 12)
        for m in range(0, 60, 10)
        for s in range(60)
    ]
    pipeline.ingest(lines, "--retention-minutes", "30")
    with sqlite3.connect(pipeline.db) as conn:
        oldest = conn.execute("select min(minute) from likes_by_user_minute").fetchone()[0]
        total = conn.execute("select sum(likes) from likes_by_minute").fetchone()[0]
    assert oldest == "2025-03-16 12:20"
    assert total == len(lines)


def test_bad_lines_are_counted_and_skipped(pipeline: Pipeline) -> None:
    good = [event(f"2025-03-16T13:26:{s:02d}") for s in range(20)]
    bad = [b"{oops", b"[]", b"", b'{"timestamp": "x"}', event("2025-03-16T13:26:00", repo="bob")]
    lines = [line for pair in zip(good, bad * 4, strict=True) for line in pair]
    result = pipeline.ingest(lines)
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 13:26:00", "20"]]
    with sqlite3.connect(pipeline.db) as conn:
        counts = dict(conn.execute("select name, n from ingest_counts").fetchall())
    assert counts["rejected"] == 20
    assert counts["rejected:invalid_json"] == 4 and counts["rejected:bad_repo"] == 4
    stderr = result.stderr.decode()
    assert stderr.count("rejected line (") == 5
    assert "15 more lines rejected" in stderr


def test_periodic_without_a_database(pipeline: Pipeline) -> None:
    result = pipeline.periodic(status=3)
    assert b"no database" in result.stdout
    assert not pipeline.db.exists()
    for name in CSVS:
        assert len(pipeline.csv(name)) == 1


def test_a_mistyped_db_leaves_the_csvs_whole(pipeline: Pipeline) -> None:
    pipeline.ingest([event("2025-03-16T13:26:53")])
    pipeline.periodic()
    before = {name: (pipeline.metrics / name).read_bytes() for name in CSVS}
    (pipeline.metrics / "fast-likers.csv").unlink()
    result = pipeline.periodic("--db", str(pipeline.tmp / "blusky.db"), status=3)
    assert result.stdout.decode().splitlines() == [
        f"no database at {pipeline.tmp / 'blusky.db'} yet: start ./handle-stream first"
        " (wrote header-only fast-likers.csv)"
    ]
    assert not (pipeline.tmp / "blusky.db").exists()
    for name in CSVS:
        expected = b"user_id,likes\n" if name == "fast-likers.csv" else before[name]
        assert (pipeline.metrics / name).read_bytes() == expected
    result = pipeline.periodic("--db", str(pipeline.tmp / "blusky.db"), status=3)
    assert "is --db right? The CSVs in place were left as they are" in result.stdout.decode()


def test_periodic_while_the_stream_writes(pipeline: Pipeline) -> None:
    lines, _ = stream(seed=9, n=40_000)
    writer = pipeline.spawn("--batch-size", "2000")
    assert writer.stdin is not None
    data = b"".join(line + b"\n" for line in lines)
    step = len(data) // 20
    runs = 0
    for i in range(20):
        writer.stdin.write(data[i * step : (i + 1) * step])
        writer.stdin.flush()
        if pipeline.db.exists():
            pipeline.periodic()  # exit 0: no "database is locked", every file written
            runs += 1
    writer.stdin.write(data[20 * step :])
    writer.stdin.close()
    assert writer.wait(timeout=120) == 0
    assert runs >= 10
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv") == reference.likes_per_minute(reference.valid_events(lines))


def test_kill_9_keeps_the_database_consistent(pipeline: Pipeline) -> None:
    lines, _ = stream(seed=13, n=40_000)
    writer = pipeline.spawn("--batch-size", "5000")
    assert writer.stdin is not None
    sent = 30_000
    writer.stdin.write(b"".join(line + b"\n" for line in lines[:sent]))
    writer.stdin.flush()
    # Killed once some batches are committed, and likely while one is written.
    wait_for(lambda: query(pipeline.db, "select n from ingest_counts where name = 'lines'") >= 10_000)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    with sqlite3.connect(pipeline.db) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        lines_committed = conn.execute("select n from ingest_counts where name = 'lines'").fetchone()[0]
        likes = conn.execute("select sum(likes) from likes_by_minute").fetchone()[0]
    assert 0 < lines_committed <= sent
    assert likes == len(reference.creates(reference.valid_events(lines[:lines_committed]), reference.LIKE))


def test_time_going_backwards_still_counts_everything(pipeline: Pipeline) -> None:
    """Concatenated files (or a clock set back): every like counts. The second
    pass goes back less than 10 minutes, so each like joins the windows it
    belongs to, as if the user's likes had come sorted by time."""
    lines, word_sets = stream(seed=41, n=8_000)
    pipeline.ingest(lines + lines)
    pipeline.periodic()
    once = reference.likes_per_minute(reference.valid_events(lines))
    twice = [once[0]] + [[minute, str(2 * int(n))] for minute, n in once[1:]]
    assert pipeline.csv("likes-per-minutes.csv") == twice
    assert pipeline.csv("fast-likers.csv") == reference.fast_likers(reference.valid_events(lines + lines))


def test_a_clock_set_back_an_hour_starts_the_windows_over(pipeline: Pipeline) -> None:
    """Beyond 10 minutes out of order a like starts its user's windows over:
    no window spans the step, and none before it is lost."""
    first, _ = stream(seed=41, n=8_000, start="2025-03-16T13:00:00")
    second, _ = stream(seed=42, n=8_000, start="2025-03-16T12:00:00")
    pipeline.ingest(first + second)
    pipeline.periodic()
    best: dict[str, int] = {}
    for part in (first, second):
        for user, likes in reference.fast_likers(reference.valid_events(part))[1:]:
            best[user] = max(best.get(user, 0), int(likes))
    rows = sorted(best.items(), key=lambda row: (-row[1], row[0]))
    assert pipeline.csv("fast-likers.csv") == [["user_id", "likes"], *([u, str(n)] for u, n in rows)]


def test_database_is_in_wal_mode_and_status_is_printed(pipeline: Pipeline) -> None:
    lines = [event("2025-03-16T13:26:53"), b"not json"]
    result = pipeline.ingest(lines, "--progress-interval", "0.1")
    with sqlite3.connect(pipeline.db) as conn:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    summary = result.stderr.decode().splitlines()[-1]
    assert "done in" in summary and "1 event (" in summary and "1 rejected" in summary
    status = pipeline.periodic().stdout.decode()
    assert "last event 2025-03-16T13:26:53" in status
    assert "1 event, 1 rejected line\n" in status
    assert "likes-per-minutes.csv: 1 row\n" in status


def test_progress_lines_go_to_stderr_while_running(pipeline: Pipeline) -> None:
    writer = pipeline.spawn("--progress-interval", "0.2", "--flush-interval", "0.1", stderr=subprocess.PIPE)
    assert writer.stdin is not None and writer.stderr is not None
    writer.stdin.write(event("2025-03-16T13:26:53") + b"\n")
    writer.stdin.flush()
    # The input stays open: progress must come while the stream is running.
    seen = [writer.stderr.readline().decode() for _ in range(5)]
    writer.stdin.close()
    assert writer.wait(timeout=30) == 0
    assert any("events/s | 1 event (likes 1, posts 0, other 0)" in line for line in seen), seen


def test_a_saved_window_that_cannot_be_read_is_dropped_with_a_warning(pipeline: Pipeline) -> None:
    burst = [event(f"2025-03-16T12:00:{s:02d}", repo=did(s % 3)) for s in range(30)]
    pipeline.ingest(burst)
    with sqlite3.connect(pipeline.db) as conn:
        saved = conn.execute("select count(*) from like_windows").fetchone()[0]
        # A hand edit and a half-restored backup.
        conn.execute("update like_windows set times = 'not json' where user_id = ?", (did(0),))
        conn.execute("update like_windows set times = '[1, \"x\"]' where user_id = ?", (did(1),))
    assert saved == 3
    result = pipeline.ingest([event("2025-03-16T12:00:40", repo=did(2))])
    warnings = [line for line in result.stderr.decode().splitlines() if "warning" in line]
    assert warnings == [
        "handle-stream: warning: dropped 2 saved fast-liker windows that could not be read"
        " (like_windows); those users' windows start over"
    ]
    with sqlite3.connect(pipeline.db) as conn:
        (run,) = conn.execute("select end_reason, events from runs where run_id = 2").fetchall()
        windows = dict(conn.execute("select user_id, times from like_windows").fetchall())
    assert run == ("end of input", 1)
    # The window that could be read was resumed and saved again with the new like.
    assert len(orjson.loads(windows[did(2)])) == 11
    assert set(windows) == {did(2)}


def test_a_like_in_the_first_hour_of_year_one_is_counted(pipeline: Pipeline) -> None:
    # Retention's cutoff, an hour before it, is not a date; it must not crash the batch.
    pipeline.ingest([event("0001-01-01T00:00:30"), event("2025-03-16T12:00:00")])
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [
        ["0001-01-01 00:00:00", "1"],
        ["2025-03-16 12:00:00", "1"],
    ]


def test_one_long_post_neither_crashes_nor_loses_the_batch(pipeline: Pipeline) -> None:
    """16 KB of 'a.' made the tokenizer's guard raise after 5 s, and the like before it was lost."""
    lines = [
        event("2025-03-16T12:00:00"),
        post("2025-03-16T12:00:01", "engineering " + "a." * 8000, ["en"]),
        post("2025-03-16T12:00:02", "Bridges engineering " + "a.-" * 5000, ["en"]),
    ]
    started = time.monotonic()
    result = pipeline.ingest(lines)
    assert time.monotonic() - started < 30  # a subprocess: a loose bound; `make bench` times the word path
    assert b"Traceback" not in result.stderr
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 12:00:00", "1"]]
    assert pipeline.csv("top-10-word.csv")[1:] == [["bridges", "1"]]
    assert pipeline.csv("posts-per-language.csv")[1:] == [["en", "2"]]


def test_first_line_bom_date_only_and_lone_surrogate(pipeline: Pipeline) -> None:
    lines = [
        b"\xef\xbb\xbf" + event("2025-03-16T12:00:00"),  # a BOM before the first line is not part of it
        event("2025-03-16"),  # a date without a time has no minute
        event("2025-03-16T12:00:01").replace(b'"create"', b'"\\ud800"'),
        b"\xef\xbb\xbf" + event("2025-03-16T12:00:02"),  # ...but elsewhere it is
    ]
    pipeline.ingest(lines)
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 12:00:00", "1"]]
    with sqlite3.connect(pipeline.db) as conn:
        counts = dict(conn.execute("select name, n from ingest_counts where name like 'rejected:%'"))
    assert counts == {"rejected:bad_timestamp": 1, "rejected:lone_surrogate": 1, "rejected:invalid_json": 1}


def test_stdin_closed_is_one_line(pipeline: Pipeline) -> None:
    result = subprocess.run(
        ["sh", "-c", f"{ROOT / 'handle-stream'} --db {pipeline.db} <&-"], capture_output=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "handle-stream: error: stdin is closed: pipe the events in (./bluesky | ./handle-stream)"
    ]


def test_a_newer_database_is_refused_by_both_tools_before_any_input(pipeline: Pipeline) -> None:
    pipeline.ingest([event("2025-03-16T12:00:00")])
    conn = sqlite3.connect(pipeline.db)
    conn.execute(f"pragma user_version = {SCHEMA_VERSION + 1}")
    conn.close()  # the last connection: the WAL is copied back and removed
    before = pipeline.db.read_bytes()
    # stdin stays open and empty: the refusal must not wait for input.
    writer = pipeline.spawn(stderr=subprocess.PIPE)
    _, stderr = writer.communicate(timeout=60)
    assert writer.returncode == 1
    (line,) = stderr.decode().splitlines()
    assert f"schema is version {SCHEMA_VERSION + 1}, newer than this blueskypipe's {SCHEMA_VERSION}" in line
    result = pipeline.periodic(status=1)
    assert f"schema is version {SCHEMA_VERSION + 1}" in result.stderr.decode()
    assert len(result.stderr.decode().splitlines()) == 1
    assert pipeline.db.read_bytes() == before


def as_a_terminal_starts_it() -> None:
    """SIGINT at its default and unblocked, whatever started the tests."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.parametrize("command", ["handle-stream", "periodic", "simulate"])
def test_ctrl_c_during_start_up_prints_no_traceback(pipeline: Pipeline, command: str) -> None:
    argv = {
        "handle-stream": [ROOT / "handle-stream", "--db", pipeline.db],
        "periodic": [ROOT / "periodic", "--db", pipeline.db, "--metrics-dir", pipeline.metrics],
        "simulate": [ROOT / "scripts" / "launch", "simulate", "--count", "100"],
    }[command]
    for delay in (0.0, 0.005, 0.01, 0.03, 0.1):
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=as_a_terminal_starts_it,  # noqa: PLW1509 - this test starts no thread
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert b"Traceback" not in stderr, (delay, stderr.decode())
        # Or it was done before the signal came: periodic, with no database, exits 3.
        assert proc.returncode in (0, 3 if command == "periodic" else 0, 130, -signal.SIGINT), (
            delay,
            proc.returncode,
        )


def test_a_silent_minute_of_a_run_is_a_zero_and_a_gap_between_runs_is_no_row(pipeline: Pipeline) -> None:
    pipeline.ingest([event("2025-03-16T12:00:10"), post("2025-03-16T12:03:30", "still here")])
    pipeline.ingest([event("2025-03-16T12:10:00"), event("2025-03-16T12:11:59")])
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [
        ["2025-03-16 12:00:00", "1"],
        ["2025-03-16 12:01:00", "0"],
        ["2025-03-16 12:02:00", "0"],
        ["2025-03-16 12:03:00", "0"],
        ["2025-03-16 12:10:00", "1"],
        ["2025-03-16 12:11:00", "1"],
    ]


def test_a_run_whose_clock_stepped_back_fills_no_minute(pipeline: Pipeline) -> None:
    pipeline.ingest([event("2025-03-16T16:00:00"), event("2025-03-16T15:40:00")])
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [
        ["2025-03-16 15:40:00", "1"],
        ["2025-03-16 16:00:00", "1"],
    ]
