"""The writer's side of SQLite: one transaction per batch of rollup deltas.

Counters are upserts that add (`n = n + excluded.n`), so a batch only
carries deltas and any number of writers' batches sum correctly. This is
the only module that turns in-memory values into SQL rows.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import msgspec
import orjson

from blueskypipe import options
from blueskypipe.db import (
    NewerSchema,
    check_version,
    connect,
    ensure_schema,
    local_now,
    primary_code,
    transaction,
)
from blueskypipe.errors import StoreBusy, StoreError
from blueskypipe.records import Batch, Blocks, EndReason, WindowSnapshot
from blueskypipe.times import MICROS_PER_DAY, MICROS_PER_MINUTE, minute_text, timestamp_text

# The writer waits briefly, then goes back to reading stdin and retries the
# same batch later: a stuck lock must not stall the pipe.
WRITER_BUSY_MS = 250
STARTUP_BUSY_MS = 10_000
# Recording why the run ended; a lock held longer leaves the run 'killed'.
END_RUN_BUSY_MS = 2_000
# When a checkpoint has copied the whole WAL back, SQLite cuts the file to
# this size, so a reader that pinned the WAL for a while leaves no bloat.
WAL_SIZE_LIMIT = 8 << 20
# recent_commits keeps this much history: enough for a rate over a minute.
RECENT_COMMITS_SECONDS = 300

# Each rollup table is upserted with ONE statement per batch that reads its
# rows from a JSON document through json_each. Beyond being a single C loop,
# this matters for the background writer: executemany releases and retakes
# the GIL around every row, and each retake waits for the parsing thread's
# switch interval, which made big batches take seconds. Each statement sits
# beside the function that makes its document from a batch.
# (`WHERE true` resolves SQLite's parsing ambiguity of SELECT ... ON CONFLICT.)


class _Upsert(NamedTuple):
    sql: str
    document: Callable[[Batch], object]  # makes the JSON document that `sql` reads


def _counter(table: str, key: str, count: str, document: Callable[[Batch], dict[str, int]]) -> _Upsert:
    """A counter table whose document is {key: count}."""
    return _Upsert(
        f"""INSERT INTO {table} ({key}, {count}) SELECT key, value FROM json_each(?) WHERE true
        ON CONFLICT ({key}) DO UPDATE SET {count} = {count} + excluded.{count}""",
        document,
    )


def _fast_liker_rows(batch: Batch) -> list[tuple[str, int, str, str]]:
    return [
        (user, peak.likes, timestamp_text(peak.start), timestamp_text(peak.end))
        for user, peak in batch.fast_likers.items()
    ]


def ingest_counts(batch: Batch) -> dict[str, int]:
    """The `ingest_counts` deltas of `batch`, zeros left out."""
    counts = {
        "lines": batch.lines,
        "events": batch.events,
        "rejected": batch.rejected,
        "ignored_action": batch.ignored_actions,
        "engineering_posts": batch.engineering_posts,
        "far_off_likes": batch.far_off_likes,
    }
    counts.update(("rejected:" + reason, n) for reason, n in batch.rejects.items())
    counts.update(("collection:" + name, n) for name, n in batch.by_collection.items())
    return {name: n for name, n in counts.items() if n}


_UPSERTS = (
    _counter("likes_by_minute", "minute", "likes", lambda b: b.likes_by_minute),
    # {minute: {user: likes}}: one row per pair of the two json_each levels.
    _Upsert(
        """INSERT INTO likes_by_user_minute (minute, user_id, likes)
        SELECT m.key, u.key, u.value FROM json_each(?) AS m, json_each(m.value) AS u WHERE true
        ON CONFLICT (minute, user_id) DO UPDATE SET likes = likes + excluded.likes""",
        lambda b: b.likes_by_user_minute,
    ),
    # [[user, likes, window_start, window_end], ...]; a user's best window
    # replaces the stored one only when it holds more likes.
    _Upsert(
        """INSERT INTO fast_likers (user_id, likes, window_start, window_end)
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true
        ON CONFLICT (user_id) DO UPDATE SET
            likes = excluded.likes,
            window_start = excluded.window_start,
            window_end = excluded.window_end
        WHERE excluded.likes > fast_likers.likes""",
        _fast_liker_rows,
    ),
    _counter("word_counts", "word", "authors", lambda b: b.word_counts),
    # [[word, form, authors], ...]: arrays, not 'word|form' keys, since a form is
    # letters only but a word comes from a lemmatiser's dictionary, so no
    # separator is safe.
    _Upsert(
        """INSERT INTO word_forms (word, form, authors)
        SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
        ON CONFLICT (word, form) DO UPDATE SET authors = authors + excluded.authors""",
        lambda b: [(word, form, n) for (word, form), n in b.word_forms.items()],
    ),
    _counter("posts_by_lang", "lang", "posts", lambda b: b.posts_by_lang),
    # [[voice, until], ...]: a voice is a 64-bit integer, not a JSON key.
    _Upsert(
        """INSERT INTO word_voices (voice, until)
        SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE true
        ON CONFLICT (voice) DO UPDATE SET until = excluded.until""",
        lambda b: list(b.voices.items()),
    ),
    _counter("ingest_counts", "name", "n", ingest_counts),
)

# Saved fast-liker windows are written this many users per statement.
WINDOWS_PER_STATEMENT = 2_000

# A user's saved window: a JSON list of like times (microseconds, times.py).
# Times far off are harmless: the windows forget them with their user.
_SAVED_TIMES = msgspec.json.Decoder(list[int])

_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_DISK_CODES = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR}


class Store:
    """The writer's side of the database: one `write` per batch."""

    keeps_events = False  # rollups only: raw events are what ClickHouse is for

    def __init__(
        self,
        path: Path,
        retention_minutes: int = options.RETENTION_MINUTES.default,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (and create or upgrade) the database; raise StoreError if it cannot be.
        `clock` gives the wall-clock times the runs table records."""
        self.path = path
        self.clock = clock
        self.retention_micros = retention_minutes * MICROS_PER_MINUTE
        self._pruned_below: str | None = None
        try:
            # Start-up (schema, window state) may wait for a lock like any
            # reader; batches then use the short WRITER_BUSY_MS. The
            # connection is used by the background writer's thread.
            self.conn = connect(path, STARTUP_BUSY_MS, check_same_thread=False)
            # Before anything writes: a newer version's database stays untouched.
            check_version(self.conn)
            # What sqlite-utils' enable_wal() does, without importing it:
            # that import (click, pluggy) was 0.35 s of a 0.8 s start-up.
            # The mode is stored in the file, so readers get WAL too.
            self.conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable against a crash of this process in WAL mode;
            # a power cut may lose the last commits but never consistency.
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            # What an upgrade changed in the data, for the run's owner to tell once.
            self.upgrade_notes = ensure_schema(self.conn)
        except (sqlite3.Error, NewerSchema) as exc:
            msg = f"cannot open {path}: {exc}"
            raise StoreError(msg) from exc
        self.run_id: int | None = None
        self.started_at: str | None = None

    def close(self) -> None:
        self.conn.close()

    def begin_run(self) -> None:
        """Record a new run, which the batches then update; a run still open
        was never closed: it was killed. Raises StoreError."""
        try:
            self.started_at = local_now(self.clock())
            with transaction(self.conn) as conn:
                conn.execute(
                    "UPDATE runs SET end_reason = ? WHERE end_reason IS NULL", (EndReason.KILLED.value,)
                )
                self.run_id = conn.execute(
                    "INSERT INTO runs (started_at) VALUES (?)", (self.started_at,)
                ).lastrowid
        except sqlite3.Error as exc:
            msg = f"cannot open {self.path}: {exc}"
            raise StoreError(msg) from exc

    def end_run(self, reason: EndReason) -> None:
        """Close the record of the run begun with why it ended.

        Best effort: after an error the database may be what failed, and
        the next start then reports the run as killed.
        """
        try:
            # Longer than a batch waits: a reader's upgrade may hold the lock a moment.
            self.conn.execute(f"PRAGMA busy_timeout = {END_RUN_BUSY_MS}")
            self.conn.execute(
                "UPDATE runs SET ended_at = ?, end_reason = ? WHERE run_id = ?",
                (local_now(self.clock()), reason.value, self.run_id),
            )
        except sqlite3.Error:
            pass

    def discard_run(self) -> None:
        """Delete the record of the run begun, which read nothing; best effort,
        like `end_run`."""
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {END_RUN_BUSY_MS}")
            self.conn.execute("DELETE FROM runs WHERE run_id = ?", (self.run_id,))
        except sqlite3.Error:
            pass

    def write(self, batch: Batch) -> None:
        """Commit all rollup deltas of `batch` (and its window snapshot, if any) atomically.

        Raises StoreBusy if the lock could not be had (nothing written) and
        StoreError for anything else; the transaction is rolled back either way.
        """
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {WRITER_BUSY_MS}")
            with transaction(self.conn):
                self._write_rollups(batch)
                self._write_run(batch)
                self._prune(batch.stream_micros)
                if batch.recent_post_times is not None:
                    self.conn.execute(
                        "INSERT OR REPLACE INTO ingest_state (key, value) VALUES ('recent_post_times', ?)",
                        (orjson.dumps(batch.recent_post_times).decode(),),
                    )
                if batch.voices_kept_between is not None:
                    self.conn.execute(
                        "DELETE FROM word_voices WHERE until < ? OR until > ?", batch.voices_kept_between
                    )
                if batch.windows is not None:
                    self._replace_windows(batch.windows)
        except sqlite3.Error as exc:
            if primary_code(exc) in _BUSY_CODES:
                msg = f"{self.path} is locked by another writer"
                raise StoreBusy(msg) from exc
            raise StoreError(_write_failure(self.path, exc)) from exc

    def take_windows(self) -> tuple[WindowSnapshot, int]:
        """Load and clear the window state saved by the last graceful stop.

        Returns the windows and how many saved ones could not be read (not a
        JSON list of like times: a hand edit, a half-restored backup); those
        are dropped, so their users' windows start over. Raises StoreError
        if the table cannot be read or cleared (nothing is cleared then).
        """
        try:
            with transaction(self.conn) as conn:
                rows = conn.execute("SELECT user_id, times FROM like_windows").fetchall()
                conn.execute("DELETE FROM like_windows")
        except sqlite3.Error as exc:
            msg = f"cannot read window state from {self.path}: {exc}"
            raise StoreError(msg) from exc
        windows: WindowSnapshot = {}
        for user, times in rows:
            try:
                windows[user] = _SAVED_TIMES.decode(times)
            except (msgspec.DecodeError, TypeError):  # TypeError: not text at all
                continue
        return windows, len(rows) - len(windows)

    def load_voices(self) -> tuple[Blocks, list[int]]:
        """The word chart's memory of who said what and its recent post times
        (voices.py), as the last batch left them. Raises StoreError."""
        try:
            blocks = dict(self.conn.execute("SELECT voice, until FROM word_voices"))
            row = self.conn.execute(
                "SELECT value FROM ingest_state WHERE key = 'recent_post_times'"
            ).fetchone()
        except sqlite3.Error as exc:
            msg = f"cannot read the word chart's memory from {self.path}: {exc}"
            raise StoreError(msg) from exc
        try:
            recent = _SAVED_TIMES.decode(row[0]) if row else []
        except (msgspec.DecodeError, TypeError):  # a hand edit: the chart's time starts over
            recent = []
        return blocks, recent

    def _write_rollups(self, batch: Batch) -> None:
        for upsert in _UPSERTS:
            document = upsert.document(batch)
            if document:
                self.conn.execute(upsert.sql, (orjson.dumps(document),))

    def _write_run(self, batch: Batch) -> None:
        now = self.clock()
        # Milliseconds: periodic shows how long ago, to a tenth of a second.
        committed_at = local_now(now, "milliseconds")
        self.conn.execute(
            """UPDATE runs SET
                lines = lines + :lines, events = events + :events, rejected = rejected + :rejected,
                first_event_time = coalesce(first_event_time, :first_event_time),
                first_minute = coalesce(first_minute, :first_minute),
                last_event_time = coalesce(:last_event_time, last_event_time),
                last_minute = coalesce(:last_minute, last_minute),
                last_commit_at = :committed_at,
                far_off_likes = far_off_likes + :far_off_likes,
                last_events_at = CASE WHEN :events > 0 THEN :committed_at ELSE last_events_at END
            WHERE run_id = :run_id""",
            {
                "lines": batch.lines,
                "events": batch.events,
                "rejected": batch.rejected,
                "first_event_time": batch.first_event_time,
                "first_minute": batch.first_minute,
                "last_event_time": batch.last_event_time,
                "last_minute": batch.last_minute,
                "committed_at": committed_at,
                "far_off_likes": batch.far_off_likes,
                "run_id": self.run_id,
            },
        )
        if batch.events:
            self.conn.execute(
                "INSERT OR REPLACE INTO recent_commits (at, events) VALUES (?, ?)", (now, batch.events)
            )
        self.conn.execute("DELETE FROM recent_commits WHERE at < ?", (now - RECENT_COMMITS_SECONDS,))

    def _prune(self, now: int | None) -> None:
        """Drop likes_by_user_minute rows older than the retention before the
        stream's time `now` (not the newest timestamp: one stray line stamped
        in year 9999 would stop the pruning for good)."""
        if now is None:
            return
        # Clamped: a like in the first hour of year 1 is valid, its cutoff is not a date.
        cutoff = minute_text(max(now - self.retention_micros, MICROS_PER_DAY))
        if self._pruned_below is not None and cutoff <= self._pruned_below:
            return
        self.conn.execute("DELETE FROM likes_by_user_minute WHERE minute < ?", (cutoff,))
        self._pruned_below = cutoff

    def _replace_windows(self, windows: WindowSnapshot) -> None:
        self.conn.execute("DELETE FROM like_windows")
        # json_each statements, like the rollups: executemany would hand the
        # GIL back and forth once per user (see _UPSERTS). Several of them:
        # one document of every window (11 minutes of likes) doubled the
        # peak memory of a run at its very end.
        users = [user for user, times in windows.items() if times]
        for start in range(0, len(users), WINDOWS_PER_STATEMENT):
            chunk = {user: list(windows[user]) for user in users[start : start + WINDOWS_PER_STATEMENT]}
            self.conn.execute(
                "INSERT INTO like_windows (user_id, times) SELECT key, value FROM json_each(?)",
                (orjson.dumps(chunk),),
            )


def _write_failure(path: Path, exc: sqlite3.Error) -> str:
    hint = " (is the disk full, or a file-size limit reached?)" if primary_code(exc) in _DISK_CODES else ""
    return f"cannot write {path}: {exc}{hint}; the batch was rolled back, earlier batches are committed"
