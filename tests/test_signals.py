"""Graceful ends: EOF, SIGINT to the whole pipeline, SIGTERM, a dying upstream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.helpers import ROOT, Pipeline, committed, event, wait_for, with_terminal_signals
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
    # A session of its own, so that killpg reaches both sides as Ctrl-C does,
    # and the signal dispositions a terminal gives, whatever started pytest.
    return subprocess.Popen(
        with_terminal_signals(["sh", "-c", command]), start_new_session=True, stderr=subprocess.PIPE
    )


@contextmanager
def started_by(disposition: signal.Handlers) -> Iterator[None]:
    """Children forked inside inherit `disposition` for SIGINT, as from
    the shell that started the tests (a background job ignores SIGINT)."""
    before = signal.signal(signal.SIGINT, disposition)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize(
    "sigint_at_start", [signal.SIG_DFL, signal.SIG_IGN], ids=["terminal", "background-job"]
)
def test_signal_to_the_whole_pipeline_loses_nothing(
    pipeline: Pipeline, signum: int, sigint_at_start: signal.Handlers
) -> None:
    lines, _ = stream(seed=21, n=30_000)
    with started_by(sigint_at_start):
        proc = start_pipeline(pipeline, lines)
    try:
        wait_for((pipeline.tmp / "all-written").exists)
        os.killpg(proc.pid, signum)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # a side that ignored the signal: do not leave it behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
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
