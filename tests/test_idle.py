"""--idle-exit: a firehose client that hangs without closing the pipe ends the run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.helpers import ROOT, Pipeline, committed, event, query, wait_for


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
    assert time.monotonic() - started < 30  # 1.5 s, on a quiet machine
    stderr = proc.stderr.read().decode()
    assert "no input for 1.5 s (--idle-exit): is the firehose client stalled?" in stderr
    wait_for(lambda: committed(pipeline.db) == len(lines), timeout=1)
    with sqlite3.connect(pipeline.db) as conn:
        assert conn.execute("select end_reason, lines from runs").fetchall() == [("idle", 30)]
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 12:00:00", "30"]]


def restart_loop(idle_exit: str, pause: str) -> str:
    """The restart loop of docs/operations.md, as written but for its two waits."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text[text.index("## Restart loop") :]
    loop = section[section.index("```sh\n") + 6 : section.index("```\n", section.index("```sh\n"))]
    assert "--idle-exit 120;" in loop and "sleep 5\n" in loop
    loop = loop.replace("--idle-exit 120;", f"--idle-exit {idle_exit};")
    return loop.replace("sleep 5\n", f"sleep {pause}\n")


# A firehose client that prints a few events, then hangs without exiting.
HANGING_CLIENT = """#!/usr/bin/env python3
import datetime, json, os, sys, time
with open("clients", "a") as f:
    f.write(f"{os.getpid()}\\n")
for i in range(3):
    ts = datetime.datetime.now().isoformat()
    print(json.dumps({"timestamp": ts, "action": "create", "path": "app.bsky.feed.like/3l",
                      "record": None, "repo": "did:plc:aaaa"}), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_the_restart_loop_replaces_a_client_that_hangs(tmp_path: Path) -> None:
    (tmp_path / "bluesky").write_text(HANGING_CLIENT)
    (tmp_path / "handle-stream").write_text(f'#!/bin/sh\nexec "{ROOT / "handle-stream"}" "$@"\n')
    for name in ("bluesky", "handle-stream"):
        (tmp_path / name).chmod(0o755)
    db = tmp_path / "bluesky.db"
    loop = subprocess.Popen(
        ["bash", "-c", restart_loop("1", "0.2")],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # idle-exit (1 s) + the pause + a start: a new run within seconds.
        wait_for(lambda: query(db, "select count(*) from runs where first_event_time is not null") >= 2, 60)
        with sqlite3.connect(db) as conn:
            first_end, gap = conn.execute(
                "select r.end_reason, g.seconds from runs r join run_gaps g on g.after_run = r.run_id"
                " where r.run_id = 1"
            ).fetchone()
        assert first_end == "idle"
        assert 1 <= gap < 15
        first_client = int((tmp_path / "clients").read_text().split()[0])
        wait_for(lambda: not alive(first_client), 5)  # the hung client was killed
    finally:
        os.killpg(loop.pid, signal.SIGKILL)
        loop.wait()
