"""Graceful ends: EOF, SIGINT to the whole pipeline, SIGTERM, a dying upstream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import ROOT, Pipeline, committed, event, wait_for
from tests.streams import stream

# An upstream like ./bluesky: prints the lines of a file, says so in a marker
# file, then keeps the pipe open as a live stream would, until a signal.
UPSTREAM = """
import sys, time
sys.stdout.buffer.write(open(sys.argv[1], "rb").read())
sys.stdout.buffer.flush()
open(sys.argv[2], "w").close()
time.sleep(600)
"""


def start_pipeline(pipeline: Pipeline, lines: list[bytes]) -> subprocess.Popen:
    source = pipeline.tmp / "input.jsonl"
    source.write_bytes(b"".join(line + b"\n" for line in lines))
    marker = pipeline.tmp / "all-written"
    command = (
        f"{sys.executable} -c '{UPSTREAM}' {source} {marker} | {ROOT / 'handle-stream'} --db {pipeline.db}"
    )
    # A session of its own, so that killpg reaches both sides as Ctrl-C does.
    return subprocess.Popen(["sh", "-c", command], start_new_session=True, stderr=subprocess.PIPE)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_the_whole_pipeline_loses_nothing(pipeline: Pipeline, signum: int) -> None:
    lines, _ = stream(seed=21, n=30_000)
    proc = start_pipeline(pipeline, lines)
    wait_for((pipeline.tmp / "all-written").exists)
    os.killpg(proc.pid, signum)
    _, stderr = proc.communicate(timeout=30)
    assert committed(pipeline.db) == len(lines)
    assert b"done in" in stderr


def test_sigterm_to_handle_stream_alone_stops_within_seconds(pipeline: Pipeline) -> None:
    writer = pipeline.spawn()
    assert writer.stdin is not None
    lines = [event(f"2025-03-16T13:26:{s:02d}") for s in range(30)]
    writer.stdin.write(b"".join(line + b"\n" for line in lines))
    writer.stdin.flush()
    wait_for(lambda: pipeline.db.exists() and committed(pipeline.db) == 30)
    started = time.monotonic()
    writer.send_signal(signal.SIGTERM)  # upstream still alive: stdin stays open
    assert writer.wait(timeout=15) == 0
    assert time.monotonic() - started < 6
    writer.stdin.close()


def test_upstream_dying_mid_line(pipeline: Pipeline) -> None:
    lines = [event(f"2025-03-16T13:26:{s:02d}") for s in range(10)]
    data = b"".join(line + b"\n" for line in lines) + lines[0][:40]
    result = pipeline.ingest(data)
    assert committed(pipeline.db, "events") == 10
    assert committed(pipeline.db, "rejected:invalid_json") == 1
    assert b"rejected line (invalid_json)" in result.stderr


def test_quiet_stream_is_committed_within_a_second_or_two(pipeline: Pipeline) -> None:
    writer = pipeline.spawn()
    assert writer.stdin is not None
    wait_for(pipeline.db.exists)
    writer.stdin.write(event("2025-03-16T13:26:00") + b"\n")
    writer.stdin.flush()
    sent = time.monotonic()
    wait_for(lambda: committed(pipeline.db) == 1, timeout=10)
    # A line waits at most one flush interval; generous for a loaded machine.
    assert time.monotonic() - sent < 3
    writer.stdin.close()
    assert writer.wait(timeout=15) == 0
