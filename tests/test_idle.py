"""--idle-exit: a firehose client that hangs without closing the pipe ends the run."""

from __future__ import annotations

import sqlite3
import subprocess
import time

from tests.helpers import Pipeline, committed, event, wait_for


def test_no_input_for_idle_exit_seconds_ends_the_run_with_everything_committed(pipeline: Pipeline) -> None:
    lines = [event(f"2025-03-16T12:00:{i:02d}") for i in range(30)]
    proc = pipeline.spawn("--idle-exit", "1.5", stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(b"".join(line + b"\n" for line in lines))
    proc.stdin.flush()  # and the pipe stays open, as a hung client leaves it
    started = time.monotonic()
    try:
        assert proc.wait(timeout=30) == 3
    finally:
        proc.kill()
    assert time.monotonic() - started < 10
    stderr = proc.stderr.read().decode()
    assert "no input for 1.5 s (--idle-exit): is the firehose client stalled?" in stderr
    wait_for(lambda: committed(pipeline.db) == len(lines), timeout=1)
    with sqlite3.connect(pipeline.db) as conn:
        assert conn.execute("select end_reason, lines from runs").fetchall() == [("idle", 30)]
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 12:00:00", "30"]]
