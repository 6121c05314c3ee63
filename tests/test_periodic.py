"""periodic's edges: hostile values, metrics folders it cannot write, runs at once."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import IO

import pytest

from blueskypipe.export import LOCK_NAME
from tests import reference
from tests.helpers import ROOT, Pipeline, committed, event, post, wait_for
from tests.streams import stream


def test_formula_like_values_never_reach_a_csv(pipeline: Pipeline) -> None:
    lines = [
        post("2025-03-16T12:00:00", "engineering =cmd|' /C calc'!A0 +rust -sum @evil", ["=1+1"]),
        post("2025-03-16T12:00:01", "engineering rocks", ["+en", "-de", "@fr"]),
    ] + [event(f"2025-03-16T12:00:{s:02d}.5", repo="did:plc:=evil") for s in range(55)]
    pipeline.ingest(lines)
    pipeline.periodic()
    for name in ("top-10-word.csv", "posts-per-language.csv", "fast-likers.csv"):
        for row in pipeline.csv(name)[1:]:
            assert row[0][:1] not in ("=", "+", "-", "@"), (name, row)
    assert pipeline.csv("posts-per-language.csv")[1:] == [["invalid", "2"]]


def test_periodic_with_an_unwritable_metrics_dir(pipeline: Pipeline) -> None:
    pipeline.ingest([event("2025-03-16T12:00:30")])
    blocked = pipeline.tmp / "not-a-dir"
    blocked.write_text("a file where the folder should be")
    result = subprocess.run(
        [str(ROOT / "periodic"), "--db", str(pipeline.db), "--metrics-dir", str(blocked)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(b"periodic: error: cannot write metrics to")
    assert result.stderr.count(b"\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders anyway")
def test_periodic_with_a_read_only_metrics_dir(pipeline: Pipeline) -> None:
    pipeline.ingest([event("2025-03-16T12:00:30")])
    pipeline.metrics.mkdir()
    pipeline.metrics.chmod(0o555)
    result = subprocess.run(
        [str(ROOT / "periodic"), "--db", str(pipeline.db), "--metrics-dir", str(pipeline.metrics)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1
    assert b"cannot write metrics" in result.stderr


def test_concurrent_periodic_runs(pipeline: Pipeline) -> None:
    lines, _ = stream(seed=37, n=20_000)
    pipeline.ingest(lines)
    command = [str(ROOT / "periodic"), "--db", str(pipeline.db), "--metrics-dir", str(pipeline.metrics)]
    for _ in range(10):
        procs = [
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(4)
        ]
        for proc in procs:
            _, stderr = proc.communicate(timeout=60)
            assert proc.returncode == 0, stderr.decode()
    expected = reference.likes_per_minute(reference.valid_events(lines))
    assert pipeline.csv("likes-per-minutes.csv") == expected
    left = [p for p in pipeline.metrics.iterdir() if p.name.startswith(".") and p.name != LOCK_NAME]
    assert not left, "temp files left behind"


def test_csvs_never_go_back_to_an_older_snapshot(pipeline: Pipeline) -> None:
    """Overlapping periodic runs while the stream writes: a slower run that read
    an older snapshot must not rename its file last."""
    lines, _ = stream(seed=38, n=40_000)
    writer = pipeline.spawn("--flush-interval", "0.02")
    assert writer.stdin is not None
    feeding = feed_slowly(writer.stdin, lines, per_step=200, pause=0.005)
    command = [str(ROOT / "periodic"), "--db", str(pipeline.db), "--metrics-dir", str(pipeline.metrics)]
    chart = pipeline.metrics / "likes-per-minutes.csv"
    seen: list[int] = []
    wait_for(lambda: committed(pipeline.db) > 0)
    while feeding.is_alive():
        procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(6)]
        while any(proc.poll() is None for proc in procs):
            if chart.exists():
                seen.append(sum(int(row[1]) for row in pipeline.csv(chart.name)[1:]))
        assert [proc.wait() for proc in procs] == [0] * 6
    assert writer.wait(timeout=60) == 0
    assert len(seen) > 100 and seen == sorted(seen)


def feed_slowly(stdin: IO[bytes], lines: list[bytes], per_step: int, pause: float) -> threading.Thread:
    """Write `lines` on a thread, `per_step` at a time, then close the pipe."""

    def write() -> None:
        for i in range(0, len(lines), per_step):
            stdin.write(b"".join(line + b"\n" for line in lines[i : i + per_step]))
            stdin.flush()
            time.sleep(pause)
        stdin.close()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_the_status_is_printed_when_the_csvs_cannot_be_written(pipeline: Pipeline) -> None:
    pipeline.ingest([event("2025-03-16T12:00:00")])
    in_the_way = pipeline.tmp / "not-a-folder"
    in_the_way.write_text("a file where the metrics folder should be\n")
    result = subprocess.run(
        [str(ROOT / "periodic"), "--db", str(pipeline.db), "--metrics-dir", str(in_the_way / "metrics")],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 1
    status = result.stdout.decode()
    assert "last event 2025-03-16T12:00:00" in status
    assert "handle-stream is not running: run 1 ended (end of input)" in status
    assert result.stderr.decode().startswith("periodic: error: cannot write metrics to ")
    assert "Traceback" not in result.stderr.decode()


def test_a_killed_writer_is_named_at_once(pipeline: Pipeline) -> None:
    writer = pipeline.running([event("2025-03-16T12:00:00")])
    assert "run 1 since" in pipeline.periodic().stdout.decode()
    writer.kill()
    writer.wait()
    status = pipeline.periodic().stdout.decode()
    assert "handle-stream is not running: run 1 ended without a word (killed or crashed)" in status
    assert "events/s" not in status
