"""--db as a place: a SQLite path or a ClickHouse DSN, and never a password shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from blueskypipe.places import ClickHouse, place


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("clickhouse://alice:s3cret@host:8123/bluesky", "clickhouse://alice:***@host:8123/bluesky"),
        ("clickhouse://alice:s3#cr/et?@host:8123/bluesky", "clickhouse://alice:***@host:8123/bluesky"),
        ("clickhouses://alice@host/bluesky", "clickhouses://alice@host/bluesky"),  # no password
        (
            "clickhouse://host/bluesky?user=alice&password=s3cret&x=1",
            "clickhouse://host/bluesky?user=alice&password=***&x=1",
        ),
        ("chdb:///var/lib/bluesky", "chdb:///var/lib/bluesky"),
    ],
)
def test_a_dsn_is_shown_without_its_password(dsn: str, shown: str) -> None:
    found = place(dsn)
    assert isinstance(found, ClickHouse)
    assert str(found) == shown
    assert "s3" not in repr(found) + f"{found}"
    assert found.dsn == dsn, "the client gets it whole"


def test_anything_else_is_a_sqlite_path() -> None:
    assert place("bluesky.db") == Path("bluesky.db")
    assert place("weird://name.db") == Path("weird://name.db")


def test_an_embedded_database_is_named_by_its_folder() -> None:
    found = place("chdb:///var/lib/bluesky")
    assert isinstance(found, ClickHouse)
    assert found.embedded == Path("/var/lib/bluesky")
    server = place("clickhouse://host/db")
    assert isinstance(server, ClickHouse)
    assert server.embedded is None


@pytest.mark.parametrize(
    ("dsn", "said"),
    [
        ("chdb://relative/dir", "absolute path"),
        ("chdb://", "absolute path"),
        ("clickhouse:///db", "names its host"),
        ("clickhouse://alice:s3cret@/db", "names its host"),
    ],
)
def test_a_dsn_that_names_no_database_is_refused(dsn: str, said: str) -> None:
    with pytest.raises(ValueError, match=said) as refused:
        place(dsn)
    assert "s3cret" not in str(refused.value)
