"""Ingest in-process: a real pipe, a real Store, a clock the test controls."""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from blueskypipe.events import LIKE as LIKE_NSID
from blueskypipe.events import MAX_LINE_BYTES
from blueskypipe.flush import MAX_HELD_BATCHES
from blueskypipe.ingest import Ingest, Options, RunFailed, RunResult
from blueskypipe.records import EndReason
from blueskypipe.source import LineReader
from tests.helpers import event, post, query, wait_for


class Run:
    """One Ingest over a pipe; what it logs is kept in `logged`."""

    def __init__(
        self, db: Path, options: Options | None = None, clock: Iterator[float] | None = None
    ) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.logged: list[str] = []
        ticks = clock
        kwargs = {} if ticks is None else {"clock": lambda: next(ticks)}
        self.ingest = Ingest(
            db, LineReader(self.read_fd, MAX_LINE_BYTES), self.logged.append, options, **kwargs
        )

    def feed(self, data: bytes) -> None:
        """Write `data` and close the pipe, on a thread (pipes hold only 64 KB)."""

        def write() -> None:
            with os.fdopen(self.write_fd, "wb") as out:
                out.write(data)

        threading.Thread(target=write, daemon=True).start()

    def finish(self) -> None:
        self.ingest.run()
        os.close(self.read_fd)


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("select name, n from ingest_counts").fetchall())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "bluesky.db"


def test_every_line_is_committed_across_batches(db: Path) -> None:
    lines = [event(f"2025-03-16T12:00:{i % 60:02d}.{i:06d}", repo=f"did:plc:{i % 7}") for i in range(1000)]
    run = Run(db, Options(batch_size=100))
    run.feed(b"".join(line + b"\n" for line in lines))
    run.finish()
    assert counts(db)[f"collection:{LIKE_NSID}"] == 1000
    assert run.ingest.totals.events == 1000


def test_an_empty_line_is_shown_as_empty_not_as_too_long(db: Path) -> None:
    run = Run(db)
    run.feed(b"\n" + event("2025-03-16T12:00:00") + b"\n")
    run.finish()
    assert "rejected line (empty): b''" in run.logged
    assert counts(db)["rejected:empty"] == 1
    assert counts(db)["events"] == 1


def test_a_line_too_long_to_keep_is_its_own_case(db: Path) -> None:
    run = Run(db)
    # Three times the limit: the reader drops it before it is ever whole.
    run.feed(b"x" * (3 * MAX_LINE_BYTES) + b"\n" + event("2025-03-16T12:00:00") + b"\n")
    run.finish()
    assert f"rejected line (too_long): (over {MAX_LINE_BYTES:,} bytes, not kept)" in run.logged
    assert counts(db)["rejected:too_long"] == 1
    assert counts(db)["events"] == 1


def test_rejects_beyond_the_first_five_are_summarised(db: Path) -> None:
    run = Run(db)
    run.feed(b"nope\n" * 8 + b"\n" * 2 + event("2025-03-16T12:00:00") + b"\n")
    run.finish()
    shown = [line for line in run.logged if line.startswith("rejected line")]
    assert len(shown) == 5
    assert "5 more lines rejected (invalid_json 3, empty 2)" in run.logged


def test_progress_lines_follow_the_injected_clock(db: Path) -> None:
    # Every look at the clock is 2 s later: each pass of the loop is due a
    # progress line (interval 1 s) and a commit (interval 1 s).
    ticks = iter(float(2 * n) for n in range(10**6))
    run = Run(db, Options(progress_interval=1.0), clock=ticks)
    lines = [post(f"2025-03-16T12:00:{i:02d}", "hello") + b"\n" for i in range(50)]
    os.write(run.write_fd, b"".join(lines[:25]))
    loop = threading.Thread(target=run.ingest.run)
    loop.start()
    try:
        # Half the lines committed and seen by the loop, then the rest.
        wait_for(lambda: run.ingest.totals.events == 25)
        os.write(run.write_fd, b"".join(lines[25:]))
    finally:
        os.close(run.write_fd)
        loop.join(timeout=30)
        os.close(run.read_fd)
    assert counts(db)["collection:app.bsky.feed.post"] == 50
    # Each rate is events over the injected time since the line before: at
    # least 2 s of it, so at most 12.5 events/s here. Between two real looks
    # pass microseconds: a rate that read the real clock would be in the millions.
    rates = [float(line.split()[0].replace(",", "")) for line in run.logged if " events/s | " in line]
    assert any(rate > 0 for rate in rates), rates
    assert all(rate <= 12.5 for rate in rates), rates


def test_a_quiet_stream_still_commits_now_and_then(db: Path) -> None:
    # Each look at the clock is 5 s later; nothing arrives on the open pipe.
    ticks = iter(float(5 * n) for n in range(10**6))
    # Short intervals: between looks at the clock the loop waits in real time.
    run = Run(db, Options(flush_interval=0.1), clock=ticks)
    loop = threading.Thread(target=run.ingest.run)
    loop.start()
    try:
        deadline = time.monotonic() + 30
        while not heartbeat(db):
            assert time.monotonic() < deadline, "no commit while the stream was quiet"
            time.sleep(0.05)
    finally:
        os.close(run.write_fd)  # end of input ends the run
        loop.join(timeout=30)
        os.close(run.read_fd)
    assert run.ingest.totals.events == 0


def heartbeat(db: Path) -> object:
    """The last commit time of the run; 0 while there is none (or no schema yet)."""
    return query(db, "select last_commit_at from runs")


def test_a_stop_ends_the_run_in_time_however_long_another_writer_holds_the_lock(db: Path) -> None:
    # Each look at the clock is half a second later: FINAL_WRITE_PATIENCE
    # passes in a few dozen looks. itertools.count is safe to call from the
    # test's thread (request_stop) and the loop's at once.
    run = Run(db, Options(batch_size=10), clock=itertools.count(0.0, 0.5))
    failed: list[BaseException] = []

    def ingest() -> None:
        try:
            run.ingest.run()
        except BaseException as exc:
            failed.append(exc)

    def feed() -> None:
        lines = (event(f"2025-03-16T12:00:{i % 60:02d}", repo=f"did:plc:{i}") + b"\n" for i in range(2000))
        with os.fdopen(run.write_fd, "wb") as out, suppress(BrokenPipeError):
            out.write(b"".join(lines))

    loop = threading.Thread(target=ingest, daemon=True)
    loop.start()
    other = sqlite3.connect(db, isolation_level=None)
    try:
        wait_for(lambda: "reading stdin into" in " ".join(run.logged))
        other.execute("begin immediate")
        # The batch outgrows MAX_HELD_BATCHES x batch_size while the writer
        # waits for the lock: the loop stops reading and waits for the writer.
        threading.Thread(target=feed, daemon=True).start()
        wait_for(lambda: run.ingest.lines_read >= 500)
        run.ingest.request_stop()
        run.ingest.request_stop()
        loop.join(timeout=8)
        still_running = loop.is_alive()
    finally:
        other.execute("rollback")
        other.close()
        loop.join(timeout=30)
        os.close(run.read_fd)
    assert not still_running, "a stop must not wait for the lock to be released"
    (error,) = failed
    assert isinstance(error, RunFailed)
    pattern = rf"{re.escape(str(db))} stayed locked for 10 s; the last ([\d,]+) lines read were not saved"
    found = re.fullmatch(pattern, str(error))
    assert found, error
    assert 500 <= int(found[1].replace(",", "")) <= 2000
    assert error.committed is not None
    assert error.committed.lines == 0


def test_a_batch_that_waits_for_the_writer_is_not_idle(db: Path) -> None:
    # Back-pressure: the loop stops reading while another connection holds
    # the lock, and the clock runs on (half a second a look) far past
    # --idle-exit. The input waits in the pipe all along: not idle.
    run = Run(db, Options(batch_size=10, idle_exit=2.0), clock=itertools.count(0.0, 0.5))
    results: list[object] = []
    loop = threading.Thread(target=lambda: results.append(run.ingest.run()), daemon=True)
    loop.start()
    other = sqlite3.connect(db, isolation_level=None)
    try:
        wait_for(lambda: "reading stdin into" in " ".join(run.logged))
        other.execute("begin immediate")
        writing = threading.Thread(target=os.write, args=(run.write_fd, lines_of(2000)), daemon=True)
        writing.start()
        wait_for(lambda: run.ingest.lines_read >= 10 * MAX_HELD_BATCHES)
        wait_for(lambda: any("retrying" in line for line in run.logged))
    finally:
        other.execute("rollback")
        other.close()
    writing.join(timeout=30)
    os.close(run.write_fd)
    loop.join(timeout=60)
    os.close(run.read_fd)
    (result,) = results
    assert isinstance(result, RunResult)
    assert result.end_reason is EndReason.END_OF_INPUT
    assert result.totals.events == 2000


def lines_of(n: int) -> bytes:
    return b"".join(event(f"2025-03-16T12:00:{i % 60:02d}", repo=f"did:plc:{i}") + b"\n" for i in range(n))
