"""Upgrades of a database written by an older version (db.SCHEMA_VERSION)."""

from __future__ import annotations

import sqlite3

from blueskypipe.db import SCHEMA_VERSION
from tests.helpers import FIXTURES, Pipeline, event, post, query


def v1_database(pipeline: Pipeline) -> None:
    with sqlite3.connect(pipeline.db) as conn:
        conn.executescript((FIXTURES / "schema-v1.sql").read_text(encoding="utf-8"))


def test_periodic_upgrades_v1_and_restarts_only_the_word_chart(pipeline: Pipeline) -> None:
    v1_database(pipeline)
    status = pipeline.periodic().stdout.decode()
    assert query(pipeline.db, "pragma user_version") == SCHEMA_VERSION
    # Unmerged word counts cannot become merged ones: dropped, and said so.
    assert pipeline.csv("top-10-word.csv") == [["word", "posts"]]
    assert "top words counted since" in status
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 12:00:00", "42"]]
    assert pipeline.csv("posts-per-language.csv")[1:] == [["en", "7"]]
    pipeline.ingest([post("2025-03-16T12:01:00", "engineering bridges", ["en"])])
    pipeline.periodic()
    assert pipeline.csv("top-10-word.csv")[1:] == [["bridges", "1"]]
    assert pipeline.csv("posts-per-language.csv")[1:] == [["en", "8"]]


def test_handle_stream_upgrades_v1_too(pipeline: Pipeline) -> None:
    v1_database(pipeline)
    pipeline.ingest([post("2025-03-16T12:01:00", "engineering bridge bridges", ["en"])])
    pipeline.periodic()
    assert pipeline.csv("top-10-word.csv")[1:] == [["bridge", "1"]]
    assert query(pipeline.db, "select n from ingest_counts where name = 'events'") == 51


def test_an_upgrade_with_no_words_to_drop_says_nothing(pipeline: Pipeline) -> None:
    v1_database(pipeline)
    with sqlite3.connect(pipeline.db) as conn:
        conn.execute("delete from word_counts")
    assert "top words counted since" not in pipeline.periodic().stdout.decode()
    assert query(pipeline.db, "pragma user_version") == SCHEMA_VERSION


def test_upgrading_twice_changes_nothing(pipeline: Pipeline) -> None:
    pipeline.ingest([post("2025-03-16T12:01:00", "engineering bridges", ["en"])])
    pipeline.ingest([post("2025-03-16T12:01:01", "engineering bridge", ["en"])])
    status = pipeline.periodic().stdout.decode()
    assert pipeline.csv("top-10-word.csv")[1:] == [["bridge", "2"]]
    assert "top words counted since" not in status


def test_periodic_migrates_an_older_schema_and_keeps_the_data(pipeline: Pipeline) -> None:
    with sqlite3.connect(pipeline.db) as conn:
        conn.executescript((FIXTURES / "schema-v0.sql").read_text())
        conn.execute("insert into likes_by_minute values ('2025-03-16 12:00', 42)")
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 12:00:00", "42"]]
    assert query(pipeline.db, "pragma user_version") >= 1
    pipeline.ingest([event("2025-03-16T12:00:30")])
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 12:00:00", "43"]]
