"""Store alone: one real SQLite file, batches built by hand."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest

from blueskypipe.errors import StoreBusy
from blueskypipe.records import Batch, Peak
from blueskypipe.store import Store
from blueskypipe.times import MICROS_PER_DAY, micros

NOON = date(2025, 3, 16).toordinal() * MICROS_PER_DAY + 12 * 3_600_000_000


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "bluesky.db", retention_minutes=10)
    store.begin_run()
    return store


def at(text: str) -> int:
    return micros(datetime.fromisoformat(text))


def rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(store.path) as conn:
        return conn.execute(sql).fetchall()


def a_batch() -> Batch:
    return Batch(
        likes_by_user_minute={"2025-03-16 12:00": {"did:plc:a": 3}},
        fast_likers={"did:plc:a": Peak(50, NOON, NOON + 59_000_000)},
        word_counts=Counter({"engineer": 1}),
        word_forms=Counter({("engineer", "engineers"): 1}),
        posts_by_lang=Counter({"en": 1}),
        lines=5,
        rejected=1,
        rejects=Counter({"empty": 1}),
        by_collection={"app.bsky.feed.like": 3, "app.bsky.feed.post": 1},
        first_event_time="2025-03-16T12:00:00",
        last_event_time="2025-03-16T12:00:30",
        first_minute="2025-03-16 12:00",
        last_minute="2025-03-16 12:00",
        stream_micros=at("2025-03-16 12:00"),
    )


def test_a_batch_lands_in_every_table(store: Store) -> None:
    store.write(a_batch())
    assert rows(store, "select * from likes_by_minute") == [("2025-03-16 12:00", 3)]
    assert rows(store, "select * from likes_by_user_minute") == [("2025-03-16 12:00", "did:plc:a", 3)]
    assert rows(store, "select * from fast_likers") == [
        ("did:plc:a", 50, "2025-03-16T12:00:00.000000", "2025-03-16T12:00:59.000000")
    ]
    assert rows(store, "select * from word_forms") == [("engineer", "engineers", 1)]
    assert rows(store, "select * from metric_top_words") == [("engineers", 1)]
    assert rows(store, "select * from posts_by_lang") == [("en", 1)]
    assert dict(rows(store, "select * from ingest_counts")) == {
        "lines": 5,
        "events": 4,
        "rejected": 1,
        "rejected:empty": 1,
        "collection:app.bsky.feed.like": 3,
        "collection:app.bsky.feed.post": 1,
    }
    # Event times, and their minutes, are kept once: in the run's row.
    assert rows(store, "select first_event_time, last_event_time, first_minute, last_minute from runs") == [
        ("2025-03-16T12:00:00", "2025-03-16T12:00:30", "2025-03-16 12:00", "2025-03-16 12:00")
    ]
    assert rows(store, "select * from ingest_state") == []


def test_counters_add_up_and_a_better_window_replaces_the_old(store: Store) -> None:
    store.write(a_batch())
    second = a_batch()
    second.fast_likers = {"did:plc:a": Peak(49, NOON, NOON + 1)}
    second.first_event_time = "2025-03-16T12:00:01"
    store.write(second)
    assert rows(store, "select likes from likes_by_minute") == [(6,)]
    assert rows(store, "select likes from fast_likers") == [(50,)], "a smaller window must not replace"
    assert rows(store, "select n from ingest_counts where name = 'events'") == [(8,)]
    assert rows(store, "select first_event_time from runs") == [("2025-03-16T12:00:00",)]
    third = a_batch()
    third.fast_likers = {"did:plc:a": Peak(51, NOON, NOON + 2)}
    store.write(third)
    assert rows(store, "select likes from fast_likers") == [(51,)]


def test_retention_prunes_old_user_minutes(store: Store) -> None:
    store.write(a_batch())
    later = Batch(
        likes_by_user_minute={"2025-03-16 12:10": {"did:plc:b": 1}}, stream_micros=at("2025-03-16 12:10")
    )
    store.write(later)
    # Ten minutes of retention: 12:00 is still inside, one minute later it is not.
    assert rows(store, "select minute from likes_by_user_minute") == [
        ("2025-03-16 12:00",),
        ("2025-03-16 12:10",),
    ]
    store.write(Batch(stream_micros=at("2025-03-16 12:11:59")))
    assert rows(store, "select minute from likes_by_user_minute") == [("2025-03-16 12:10",)]


def test_windows_are_saved_once_and_taken_once(store: Store) -> None:
    store.write(Batch(windows={"did:plc:a": [1, 2, 3], "did:plc:empty": []}))
    assert store.take_windows() == ({"did:plc:a": [1, 2, 3]}, 0)
    assert store.take_windows() == ({}, 0)


@pytest.mark.parametrize("times", ["not json", '{"a": 1}', '[1, "x"]', "[1.5]", "[true]", "[1, 2"])
def test_a_saved_window_that_is_not_a_list_of_times_is_dropped_and_counted(store: Store, times: str) -> None:
    store.write(Batch(windows={"did:plc:a": [1, 2, 3], "did:plc:b": [4]}))
    with sqlite3.connect(store.path) as conn:
        conn.execute("update like_windows set times = ? where user_id = 'did:plc:b'", (times,))
    assert store.take_windows() == ({"did:plc:a": [1, 2, 3]}, 1)
    assert rows(store, "select count(*) from like_windows") == [(0,)]


def test_a_held_lock_is_busy_and_writes_nothing(store: Store) -> None:
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("begin immediate")
    with pytest.raises(StoreBusy):
        store.write(a_batch())
    other.execute("rollback")
    assert rows(store, "select count(*) from likes_by_minute") == [(0,)]
    store.write(a_batch())
    assert rows(store, "select likes from likes_by_minute") == [(3,)]
