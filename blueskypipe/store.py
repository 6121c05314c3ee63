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

_UPSERTS = {
    "likes_by_minute": """
        INSERT INTO likes_by_minute (minute, likes) VALUES (?, ?)
        ON CONFLICT (minute) DO UPDATE SET likes = likes + excluded.likes""",
    "likes_by_user_minute": """
        INSERT INTO likes_by_user_minute (minute, user_id, likes) VALUES (?, ?, ?)
        ON CONFLICT (minute, user_id) DO UPDATE SET likes = likes + excluded.likes""",
    "fast_likers": """
        INSERT INTO fast_likers (user_id, likes, window_start, window_end) VALUES (?, ?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET
            likes = excluded.likes,
            window_start = excluded.window_start,
            window_end = excluded.window_end
        WHERE excluded.likes > fast_likers.likes""",
    "word_counts": """
        INSERT INTO word_counts (word, posts) VALUES (?, ?)
        ON CONFLICT (word) DO UPDATE SET posts = posts + excluded.posts""",
    "posts_by_lang": """
        INSERT INTO posts_by_lang (lang, posts) VALUES (?, ?)
        ON CONFLICT (lang) DO UPDATE SET posts = posts + excluded.posts""",
    "ingest_counts": """
        INSERT INTO ingest_counts (name, n) VALUES (?, ?)
        ON CONFLICT (name) DO UPDATE SET n = n + excluded.n""",
}


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
            self.conn = connect(path, WRITER_BUSY_MS)
            db = sqlite_utils.Database(self.conn)
            db.enable_wal()
            # NORMAL is durable against a crash of this process in WAL mode;
            # a power cut may lose the last commits but never consistency.
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute(f"PRAGMA journal_size_limit = {32 << 20}")
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
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._write_rollups(batch)
                if windows is not None:
                    self._replace_windows(windows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                msg = f"{self.path} is locked by another writer"
                raise StoreBusy(msg) from exc
            msg = f"cannot write {self.path}: {exc}"
            raise StoreError(msg) from exc
        except sqlite3.Error as exc:
            msg = f"cannot write {self.path}: {exc}"
            raise StoreError(msg) from exc

    def _write_rollups(self, batch: Batch) -> None:
        run = self.conn.executemany
        run(_UPSERTS["likes_by_minute"], batch.likes_by_minute.items())
        run(
            _UPSERTS["likes_by_user_minute"],
            ((m, u, n) for (m, u), n in batch.likes_by_user_minute.items()),
        )
        run(_UPSERTS["fast_likers"], batch.fast_liker_rows())
        run(_UPSERTS["word_counts"], batch.word_posts.items())
        run(_UPSERTS["posts_by_lang"], batch.lang_posts.items())
        run(_UPSERTS["ingest_counts"], batch.counts().items())
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
        cutoff = (newest - self.retention).strftime("%Y-%m-%d %H:%M")
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
