"""The writer's side of SQLite: one transaction per batch of rollup deltas.

Counters are upserts that add (`n = n + excluded.n`), so a batch only
carries deltas and any number of writers' batches sum correctly.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import sqlite_utils

from blueskypipe.aggregate import Batch
from blueskypipe.db import apply_schema, connect

# The writer waits briefly, then goes back to reading stdin and retries the
# same batch later: a stuck lock must not stall the pipe.
WRITER_BUSY_MS = 250
STARTUP_BUSY_MS = 10_000
# When a checkpoint has copied the whole WAL back, SQLite cuts the file to
# this size, so a reader that pinned the WAL for a while leaves no bloat.
WAL_SIZE_LIMIT = 8 << 20

# Each counter table is upserted with ONE statement per batch that reads its
# rows from a JSON object ({key: count}) through json_each. Beyond being a
# single C loop, this matters for the background writer: executemany
# releases and retakes the GIL around every row, and each retake waits for
# the parsing thread's switch interval, which made big batches take seconds.
# (`WHERE true` resolves SQLite's parsing ambiguity of SELECT ... ON CONFLICT.)
_COUNTER_UPSERT = """
    INSERT INTO {table} ({key}, {count}) SELECT key, value FROM json_each(?) WHERE true
    ON CONFLICT ({key}) DO UPDATE SET {count} = {count} + excluded.{count}"""
_COUNTERS = {
    "likes_by_minute": _COUNTER_UPSERT.format(table="likes_by_minute", key="minute", count="likes"),
    "word_counts": _COUNTER_UPSERT.format(table="word_counts", key="word", count="posts"),
    "posts_by_lang": _COUNTER_UPSERT.format(table="posts_by_lang", key="lang", count="posts"),
    "ingest_counts": _COUNTER_UPSERT.format(table="ingest_counts", key="name", count="n"),
}
# Keys are 'minute|user': '|' occurs in neither a minute nor a DID.
_USER_MINUTE_UPSERT = """
    INSERT INTO likes_by_user_minute (minute, user_id, likes)
    SELECT substr(key, 1, instr(key, '|') - 1), substr(key, instr(key, '|') + 1), value
    FROM json_each(?) WHERE true
    ON CONFLICT (minute, user_id) DO UPDATE SET likes = likes + excluded.likes"""
# Rows are [word, form, posts] arrays: a form is letters only, but a word
# comes from a lemmatiser's dictionary, so no separator is safe.
_WORD_FORM_UPSERT = """
    INSERT INTO word_forms (word, form, posts)
    SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
    ON CONFLICT (word, form) DO UPDATE SET posts = posts + excluded.posts"""
_FAST_LIKER_UPSERT = """
    INSERT INTO fast_likers (user_id, likes, window_start, window_end) VALUES (?, ?, ?, ?)
    ON CONFLICT (user_id) DO UPDATE SET
        likes = excluded.likes,
        window_start = excluded.window_start,
        window_end = excluded.window_end
    WHERE excluded.likes > fast_likers.likes"""


class StoreError(Exception):
    """The database cannot be written (disk full, read-only, not a database)."""


class StoreBusy(StoreError):
    """Another connection holds the write lock; retry the same batch later."""


class Store:
    """The writer's side of the database: one `write` per batch."""

    def __init__(self, path: Path, retention_minutes: int = 60) -> None:
        self.path = path
        self.retention = timedelta(minutes=retention_minutes)
        self._pruned_below: str | None = None
        try:
            # Start-up (schema, window state) may wait for a lock like any
            # reader; batches then use the short WRITER_BUSY_MS.
            self.conn = connect(path, STARTUP_BUSY_MS)
            db = sqlite_utils.Database(self.conn)
            db.enable_wal()
            # NORMAL is durable against a crash of this process in WAL mode;
            # a power cut may lose the last commits but never consistency.
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            apply_schema(self.conn)
        except sqlite3.Error as exc:
            msg = f"cannot open {path}: {exc}"
            raise StoreError(msg) from exc

    def close(self) -> None:
        self.conn.close()

    def write(self, batch: Batch, windows: dict[str, list[int]] | None = None) -> None:
        """Commit all rollup deltas of `batch` (and a window snapshot) atomically.

        Raises StoreBusy if the lock could not be had (nothing written) and
        StoreError for anything else; the transaction is rolled back either way.
        """
        conn = self.conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {WRITER_BUSY_MS}")
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._write_rollups(batch)
                if windows is not None:
                    self._replace_windows(windows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                msg = f"{self.path} is locked by another writer"
                raise StoreBusy(msg) from exc
            raise StoreError(_write_failure(self.path, exc)) from exc
        except sqlite3.Error as exc:
            raise StoreError(_write_failure(self.path, exc)) from exc

    def _write_rollups(self, batch: Batch) -> None:
        execute = self.conn.execute
        execute(_COUNTERS["likes_by_minute"], (orjson.dumps(batch.likes_by_minute),))
        execute(_USER_MINUTE_UPSERT, (orjson.dumps(batch.likes_by_user_minute),))
        self.conn.executemany(_FAST_LIKER_UPSERT, batch.fast_liker_rows())
        execute(_COUNTERS["word_counts"], (orjson.dumps(batch.word_posts),))
        word_forms = [(word, form, n) for (word, form), n in batch.word_form_posts.items()]
        execute(_WORD_FORM_UPSERT, (orjson.dumps(word_forms),))
        execute(_COUNTERS["posts_by_lang"], (orjson.dumps(batch.lang_posts),))
        execute(_COUNTERS["ingest_counts"], (orjson.dumps(batch.counts()),))
        self._write_state(batch)
        self._prune(batch.newest_minute)

    def _write_state(self, batch: Batch) -> None:
        execute = self.conn.execute
        if batch.first_event_time is not None:
            execute(
                "INSERT INTO ingest_state (key, value) VALUES ('first_event_time', ?)"
                " ON CONFLICT (key) DO NOTHING",
                (batch.first_event_time,),
            )
        state = {"last_commit_at": repr(time.time())}
        if batch.last_event_time is not None:
            state["last_event_time"] = batch.last_event_time
        self.conn.executemany(
            "INSERT INTO ingest_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            state.items(),
        )

    def _prune(self, newest_minute: str | None) -> None:
        if newest_minute is None:
            return
        newest = datetime.strptime(newest_minute, "%Y-%m-%d %H:%M")
        cutoff = (newest - self.retention).isoformat(sep=" ", timespec="minutes")
        if self._pruned_below is not None and cutoff <= self._pruned_below:
            return
        self.conn.execute("DELETE FROM likes_by_user_minute WHERE minute < ?", (cutoff,))
        self._pruned_below = cutoff

    def _replace_windows(self, windows: dict[str, list[int]]) -> None:
        self.conn.execute("DELETE FROM like_windows")
        self.conn.executemany(
            "INSERT INTO like_windows (user_id, times) VALUES (?, ?)",
            ((user, orjson.dumps(times).decode()) for user, times in windows.items() if times),
        )

    def take_windows(self) -> dict[str, list[int]]:
        """Load and clear the window state saved by the last graceful stop."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            rows = self.conn.execute("SELECT user_id, times FROM like_windows").fetchall()
            self.conn.execute("DELETE FROM like_windows")
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            msg = f"cannot read window state from {self.path}: {exc}"
            raise StoreError(msg) from exc
        return {user: orjson.loads(times) for user, times in rows}


def _write_failure(path: Path, exc: sqlite3.Error) -> str:
    hint = ""
    if "disk" in str(exc) or "full" in str(exc):
        hint = " (is the disk full, or a file-size limit reached?)"
    return f"cannot write {path}: {exc}{hint}; the batch was rolled back, earlier batches are committed"
