"""BackgroundWriter on a real Store: commits, reports, held locks and failures."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from blueskypipe import store as store_module
from blueskypipe import writer as writer_module
from blueskypipe.errors import StoreError
from blueskypipe.records import Batch
from blueskypipe.store import Store
from blueskypipe.writer import BackgroundWriter
from tests.helpers import wait_for


class Recorder:
    """What the writer reports, and on which thread."""

    def __init__(self) -> None:
        self.commits: list[Batch] = []
        self.commit_threads: list[threading.Thread] = []
        self.busy: list[str] = []

    def on_commit(self, batch: Batch) -> None:
        self.commits.append(batch)
        self.commit_threads.append(threading.current_thread())

    def on_busy(self, message: str) -> None:
        self.busy.append(message)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    # Shorter waits for a held lock, so the retry tests take milliseconds:
    # the same code path, only its patience is tuned.
    monkeypatch.setattr(store_module, "WRITER_BUSY_MS", 10)
    monkeypatch.setattr(writer_module, "RETRY_SECONDS", 0.005)
    store = Store(tmp_path / "bluesky.db")
    store.begin_run()
    yield store
    store.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def writer(store: Store, recorder: Recorder) -> Iterator[BackgroundWriter]:
    writer = BackgroundWriter(store, recorder.on_commit, recorder.on_busy)
    yield writer
    writer.close()


def a_batch(lines: int = 3) -> Batch:
    return Batch(
        likes_by_user_minute={"2025-03-16 12:00": Counter({"did:plc:a": lines})},
        word_counts=Counter({"engineer": 1}),
        lines=lines,
        first_event_time="2025-03-16T12:00:00",
        last_event_time="2025-03-16T12:00:30",
        first_minute="2025-03-16 12:00",
        last_minute="2025-03-16 12:00",
    )


def read(path: Path, sql: str) -> object:
    """One value, through a connection of its own."""
    with sqlite3.connect(path) as conn:
        row = conn.execute(sql).fetchone()
    return None if row is None else row[0]


def committed_lines(path: Path) -> object:
    return read(path, "select n from ingest_counts where name = 'lines'")


def holding_the_lock(path: Path) -> sqlite3.Connection:
    """Another connection that holds the database's write lock until it rolls back."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def count_attempts(store: Store) -> list[str]:
    """The write transactions the store's own connection begins, as SQLite traces them."""
    begun: list[str] = []
    store.conn.set_trace_callback(lambda sql: begun.append(sql) if sql.startswith("BEGIN") else None)
    return begun


def test_a_commit_is_reported_only_by_collect_on_the_callers_thread(
    store: Store, writer: BackgroundWriter, recorder: Recorder
) -> None:
    batch = a_batch()
    writer.submit(batch)
    wait_for(lambda: committed_lines(store.path) == 3, timeout=5)
    assert recorder.commits == [], "written, but nobody collected it yet"
    assert writer.busy, "a batch not collected yet is still held"
    collected_until_reported(writer, recorder)
    assert recorder.commits == [batch]
    assert recorder.commit_threads == [threading.current_thread()]
    writer.collect()
    assert recorder.commits == [batch], "a batch is reported once"
    assert recorder.busy == []


def test_wait_commits_and_reports_on_the_callers_thread(
    store: Store, writer: BackgroundWriter, recorder: Recorder
) -> None:
    assert writer.wait(0) is True, "nothing in flight"
    batch = a_batch()
    writer.submit(batch)
    assert writer.wait(5) is True
    assert recorder.commits == [batch]
    assert recorder.commit_threads == [threading.current_thread()]
    assert committed_lines(store.path) == 3
    assert writer.wait(0) is True
    assert recorder.commits == [batch]


def collected_until_reported(writer: BackgroundWriter, recorder: Recorder) -> None:
    before = len(recorder.commits)
    wait_for(lambda: writer.collect() or len(recorder.commits) > before, timeout=5)


def test_busy_is_a_question(store: Store, writer: BackgroundWriter, recorder: Recorder) -> None:
    assert writer.busy is False
    writer.submit(a_batch())
    wait_for(lambda: committed_lines(store.path) == 3, timeout=5)
    # Written: held until collected, however often it is asked. A writer that
    # said "not busy" here would be handed the next batch while it holds one.
    for _ in range(100):
        assert writer.busy is True
    assert recorder.commits == [], "asking must not report the commit"
    collected_until_reported(writer, recorder)
    assert len(recorder.commits) == 1
    assert writer.busy is False


def test_submit_while_a_batch_is_held_raises(store: Store, writer: BackgroundWriter) -> None:
    other = holding_the_lock(store.path)
    try:
        writer.submit(a_batch())
        wait_for(lambda: writer.locked_out, timeout=5)
        with pytest.raises(RuntimeError, match="still holds"):
            writer.submit(a_batch())
    finally:
        other.execute("ROLLBACK")
    wait_for(lambda: committed_lines(store.path) == 3, timeout=5)
    # Written but not collected: still held.
    assert writer.busy
    with pytest.raises(RuntimeError, match="still holds"):
        writer.submit(a_batch())
    assert writer.wait(5) is True
    writer.submit(a_batch(lines=4))
    assert writer.wait(5) is True
    assert committed_lines(store.path) == 7, "the refused batches wrote nothing"


def test_a_held_lock_is_retried_then_the_batch_is_committed_once(
    store: Store, writer: BackgroundWriter, recorder: Recorder
) -> None:
    attempts = count_attempts(store)
    other = holding_the_lock(store.path)
    try:
        batch = a_batch()
        writer.submit(batch)
        wait_for(lambda: len(attempts) >= 3, timeout=5)
        assert writer.locked_out is True
        assert writer.busy is True
        assert writer.wait(0) is False
        assert recorder.commits == []
        assert len(recorder.busy) == 1, recorder.busy
        assert "locked" in recorder.busy[0]
        assert "holding 3 lines and retrying" in recorder.busy[0]
        assert other.execute("select count(*) from likes_by_minute").fetchone() == (0,)
    finally:
        other.execute("ROLLBACK")
    assert writer.wait(5) is True
    assert writer.locked_out is False
    assert recorder.commits == [batch]
    assert len(recorder.busy) == 2
    assert "lock released" in recorder.busy[1]
    # Exactly once, however many attempts the lock cost.
    assert committed_lines(store.path) == 3
    assert read(store.path, "select sum(likes) from likes_by_minute") == 3
    assert read(store.path, "select sum(likes) from likes_by_user_minute") == 3
    assert read(store.path, "select authors from word_counts where word = 'engineer'") == 1
    assert read(store.path, f"select lines from runs where run_id = {store.run_id}") == 3


# What another connection can do to make the next write fail, and what the error then names.
SABOTAGE = {
    "a dropped table": ("DROP TABLE word_counts", "no such table: word_counts"),
    # Fires after likes_by_minute was written in the same transaction.
    "a trigger that aborts": (
        "CREATE TRIGGER refuse BEFORE INSERT ON word_counts BEGIN SELECT RAISE(ABORT, 'refused'); END",
        "refused",
    ),
}


@pytest.mark.parametrize("fetch", ["collect", "wait"])
@pytest.mark.parametrize("sabotage", SABOTAGE)
def test_a_failed_write_is_raised_on_the_callers_thread(
    store: Store, writer: BackgroundWriter, recorder: Recorder, sabotage: str, fetch: str
) -> None:
    sql, named = SABOTAGE[sabotage]
    with sqlite3.connect(store.path) as other:
        other.execute(sql)
    writer.submit(a_batch())
    with pytest.raises(StoreError, match=named) as raised:
        if fetch == "wait":
            writer.wait(5)
        else:
            wait_for(lambda: writer.collect() is not None, timeout=5)  # until collect raises
    assert "the batch was rolled back" in str(raised.value)
    assert recorder.commits == []
    assert recorder.busy == [], "a failure is not a held lock"
    assert committed_lines(store.path) is None, "the failed batch wrote nothing"
    assert read(store.path, "select count(*) from likes_by_minute") == 0
    assert read(store.path, f"select lines from runs where run_id = {store.run_id}") == 0


def test_close_gives_up_a_batch_that_waits_for_a_held_lock(
    store: Store, writer: BackgroundWriter, recorder: Recorder
) -> None:
    attempts = count_attempts(store)
    other = holding_the_lock(store.path)
    closer = threading.Thread(target=writer.close, daemon=True)
    try:
        writer.submit(a_batch())
        wait_for(lambda: writer.locked_out and len(attempts) >= 2, timeout=5)
        closer.start()
        closer.join(timeout=5)
        assert not closer.is_alive(), "close() must give up a batch the lock holds back"
        tried = len(attempts)
    finally:
        other.execute("ROLLBACK")
        closer.join(timeout=5)
    assert len(attempts) == tried, "no attempt after close"
    assert committed_lines(store.path) is None
    assert recorder.commits == []
    assert len(recorder.busy) == 1, "it never claims the held lines were committed"
