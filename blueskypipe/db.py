"""Connections and schema: what both the writer and the readers need.

Kept free of heavy imports so that `periodic` starts fast.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.sql"
SCHEMA_VERSION = 1

# Readers wait this long for a lock; in WAL mode they rarely need to.
READER_BUSY_MS = 5000


def connect(path: Path, busy_timeout_ms: int = READER_BUSY_MS) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with busy_timeout set."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def apply_schema(conn: sqlite3.Connection) -> None:
    """Create or upgrade tables and views; safe to run any number of times."""
    sql = SCHEMA_PATH.read_text(encoding="utf-8")
    conn.executescript(f"BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
