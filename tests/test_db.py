"""db.transaction: the one way every writer opens, commits and rolls back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from blueskypipe.db import connect, transaction


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    conn = connect(tmp_path / "t.db")
    conn.execute("create table t (n integer)")
    return conn


def test_the_block_is_committed(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        conn.execute("insert into t values (1)")
    assert not conn.in_transaction
    assert conn.execute("select n from t").fetchall() == [(1,)]


def test_any_exception_rolls_back_and_is_raised_again(conn: sqlite3.Connection) -> None:
    with pytest.raises(KeyboardInterrupt), transaction(conn):
        conn.execute("insert into t values (1)")
        raise KeyboardInterrupt
    assert not conn.in_transaction
    assert conn.execute("select count(*) from t").fetchone() == (0,)


def test_a_held_lock_fails_at_the_start(conn: sqlite3.Connection, tmp_path: Path) -> None:
    other = connect(tmp_path / "t.db")
    other.execute("begin immediate")
    conn.execute("pragma busy_timeout = 0")
    ran = False
    with pytest.raises(sqlite3.OperationalError, match="locked"), transaction(conn):
        ran = True
    assert not ran
    other.execute("rollback")
