"""Connections and schema: what both the writer and the readers need.

The writer owns the database's shape: `ensure_schema`, run by
handle-stream at every start, creates or upgrades the tables and
re-creates every view from schema.sql (views hold no data). Readers open
the database read-only (`snapshot`) and never change it. Kept free of
heavy imports so that `periodic` starts fast.
"""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path

from blueskypipe import times
from blueskypipe.wording import counted

# 1: the first versioned layout. 2: word_counts holds merged (lemmatised)
# words, with word_forms beside it; older word counts cannot be converted.
# 3: runs, recent_commits and the views run_gaps and partial_minutes (new
# tables only: nothing to convert). 4: the light verbs and vague words below
# became English stop words; their old counts leave word_counts.
# 5: runs.first_minute and last_minute (computed by the parser, for
# partial_minutes); event and commit times only in runs, not in ingest_state.
# 6: runs.last_events_at, when a commit last carried events (a stalled
# firehose client shows as a run that commits but gets no events).
# 7: runs.far_off_likes, likes stamped far from the stream's time.
# 8: metric_fast_likers no longer restates the threshold (views only).
# 9: metric_likes_per_minute has a 0 for each silent minute of a run (views only).
# 10: words count once per author a day, not once per post: word_counts and
# word_forms count `authors`, word_voices remembers who said what; older
# word counts cannot be converted, so the word chart starts over.
SCHEMA_VERSION = 10

# Readers wait this long for a lock; in WAL mode they rarely need to.
READER_BUSY_MS = 5000


def connect(
    path: Path | str, busy_timeout_ms: int = READER_BUSY_MS, check_same_thread: bool = True, uri: bool = False
) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with busy_timeout set;
    `uri`: `path` is a `file:` URI."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread, uri=uri)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


def local_now(at: float | None = None, timespec: str = "seconds") -> str:
    """This machine's local time as stored in the database ('YYYY-MM-DD HH:MM:SS')."""
    return datetime.fromtimestamp(time.time() if at is None else at).isoformat(sep=" ", timespec=timespec)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction around the `with` block: committed at its end,
    rolled back on any exception (which is raised again).

    IMMEDIATE takes the write lock at the start, so a busy database fails
    here, before anything was done, rather than halfway through.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT may leave the transaction open; nothing else may.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class ReadError(Exception):
    """The database cannot be read (not a database, unreadable, a newer schema's upgrade failed)."""


class OlderSchema(ReadError):
    """The database was written by an older version; handle-stream upgrades it at its start."""

    def __init__(self, path: Path, found: int) -> None:
        super().__init__(
            f"{path} has schema version {found}, older than this blueskypipe's {SCHEMA_VERSION}:"
            " start ./handle-stream once to upgrade it"
        )


class ReadOnlyCopy(ReadError):
    """SQLite cannot open the database read-only where it lies (a WAL database
    in a read-only folder has no room for its shared-memory file)."""


class NewerSchema(Exception):
    """The database was written by a newer version of blueskypipe; nothing was changed."""

    def __init__(self, found: int) -> None:
        super().__init__(
            f"its schema is version {found}, newer than this blueskypipe's {SCHEMA_VERSION}:"
            " update blueskypipe (git pull) or use another --db"
        )
        self.found = found


@contextmanager
def snapshot(path: Path, immutable: bool = False) -> Iterator[sqlite3.Connection]:
    """One read transaction on the database at `path`, opened read-only
    (`immutable`: also without the WAL's shared memory, for a copy no writer
    holds). Raises OlderSchema or NewerSchema (nothing read), ReadOnlyCopy,
    or ReadError."""
    mode = "ro&immutable=1" if immutable else "ro"
    try:
        conn = connect(f"file:{urllib.parse.quote(str(path))}?mode={mode}", uri=True)
    except sqlite3.Error as exc:
        msg = f"cannot read {path}: {exc}"
        raise ReadError(msg) from exc
    try:
        version = _reader_version(conn, path)
        if version < SCHEMA_VERSION:
            raise OlderSchema(path, version)
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        msg = f"cannot read {path}: {exc}"
        raise ReadError(msg) from exc
    finally:
        conn.close()


def _reader_version(conn: sqlite3.Connection, path: Path) -> int:
    try:
        return check_version(conn)
    except NewerSchema as exc:
        msg = f"cannot read {path}: {exc}"
        raise ReadError(msg) from exc
    except sqlite3.OperationalError as exc:
        if primary_code(exc) in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY):
            msg = f"cannot read {path} where it lies: {exc}"
            raise ReadOnlyCopy(msg) from exc
        raise


def primary_code(exc: sqlite3.Error) -> int | None:
    """The primary result code of `exc` (its sqlite_errorcode is the extended one:
    SQLITE_IOERR_WRITE = IOERR | 3 << 8), or None."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def schema_sql() -> str:
    """schema.sql: the top-level file in a checkout, shipped inside the wheel
    (blueskypipe/schema.sql links to it in the repo)."""
    return resources.files("blueskypipe").joinpath("schema.sql").read_text(encoding="utf-8")


def ensure_schema(conn: sqlite3.Connection) -> list[str]:
    """The writer's start: create the database or upgrade an older one to
    SCHEMA_VERSION, and re-create every view from schema.sql (views hold no
    data, so an edited view reaches every database). Returns what the
    upgrade changed in the data, for the caller to tell the user. Raises
    NewerSchema, having changed nothing, for a database of a newer version.
    """
    check_version(conn)
    return apply_schema(conn)


def check_version(conn: sqlite3.Connection) -> int:
    """The database's schema version; raises NewerSchema if this code is older."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise NewerSchema(version)
    return version


def apply_schema(conn: sqlite3.Connection) -> list[str]:
    """Create or upgrade tables and views; safe to run any number of times.

    One transaction, with the version read inside it, so two processes that
    start together cannot both run an upgrade step. Returns what the
    upgrade changed in the data (see `ensure_schema`).
    """
    with transaction(conn):
        version = check_version(conn)
        notes = _before_schema(conn, version)
        for statement in _statements(schema_sql()):
            conn.execute(statement)
        notes += _upgrade(conn, version)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return notes


def _before_schema(conn: sqlite3.Connection, version: int) -> list[str]:
    """Steps that schema.sql's statements depend on: its index of
    word_counts reads a column that older versions named otherwise."""
    if version >= 10 or not _columns(conn, "word_counts"):
        return []
    # Counts per post cannot be split into counts per author and day, so the
    # word chart starts over; nothing else does.
    (words,) = conn.execute("SELECT count(*) FROM word_counts").fetchone()
    conn.execute("DROP INDEX IF EXISTS word_counts_by_posts")
    conn.execute("DROP VIEW IF EXISTS metric_top_words")  # it reads the old column; schema.sql makes it anew
    for table in ("word_counts", "word_forms"):  # version 1 had no word_forms
        if _columns(conn, table):
            conn.execute(f"DELETE FROM {table}")
        if "posts" in _columns(conn, table):
            conn.execute(f"ALTER TABLE {table} RENAME COLUMN posts TO authors")
    if not words:
        return []
    conn.execute(
        "INSERT OR REPLACE INTO ingest_state (key, value) VALUES ('word_counts_reset_at', ?)", (local_now(),)
    )
    return [
        f"top words: started over, as a word now counts once per author a day"
        f" (dropped {counted(words, 'word')} counted per post)"
    ]


def _upgrade(conn: sqlite3.Connection, version: int) -> list[str]:
    """Versioned steps that `CREATE … IF NOT EXISTS` cannot express."""
    notes: list[str] = []
    if version < 5:
        _times_in_runs_only(conn)
    if version < 6:
        _add_column(conn, "runs", "last_events_at", "TEXT")
    if version < 7:
        _add_column(conn, "runs", "far_off_likes", "INTEGER NOT NULL DEFAULT 0")
    return notes


def _times_in_runs_only(conn: sqlite3.Connection) -> None:
    """Fill in the minutes of earlier runs, computed as the parser computes
    them, and drop the times that ingest_state repeated."""
    # The columns exist already when schema.sql just created the table; its
    # views that read them were created above, which SQLite allows (it
    # resolves a view's columns when the view is used).
    _add_column(conn, "runs", "first_minute", "TEXT")
    _add_column(conn, "runs", "last_minute", "TEXT")
    runs = conn.execute("SELECT run_id, first_event_time, last_event_time FROM runs").fetchall()
    conn.executemany(
        "UPDATE runs SET first_minute = ?, last_minute = ? WHERE run_id = ?",
        [(_minute_of(first), _minute_of(last), run_id) for run_id, first, last in runs],
    )
    # These repeated what runs holds (first_event_time was never read).
    conn.execute(
        "DELETE FROM ingest_state WHERE key IN ('first_event_time', 'last_event_time', 'last_commit_at')"
    )


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _add_column(conn: sqlite3.Connection, table: str, column: str, kind: str) -> None:
    if column not in _columns(conn, table):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _minute_of(timestamp: str | None) -> str | None:
    if timestamp is None:
        return None
    try:
        return times.minute_text(times.micros(datetime.fromisoformat(timestamp)))
    except ValueError:
        return None


def _statements(script: str) -> Iterator[str]:
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
