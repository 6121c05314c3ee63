"""Upgrades of a database written by an older version (db.SCHEMA_VERSION)."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from contextlib import closing

import yaml

from blueskypipe.db import SCHEMA_VERSION, schema_sql
from blueskypipe.records import EndReason
from blueskypipe.store import Store
from tests.helpers import FIXTURES, ROOT, Pipeline, did, event, post, query


def upgrade(pipeline: Pipeline) -> list[str]:
    """What handle-stream does first (the writer owns the database's shape):
    apply schema.sql and its upgrades; returns what the upgrade said."""
    store = Store(pipeline.db)
    store.close()
    return store.upgrade_notes


def v1_database(pipeline: Pipeline) -> None:
    with sqlite3.connect(pipeline.db) as conn:
        conn.executescript((FIXTURES / "schema-v1.sql").read_text(encoding="utf-8"))


def test_an_upgrade_of_v1_restarts_only_the_word_chart(pipeline: Pipeline) -> None:
    v1_database(pipeline)
    upgrade(pipeline)
    status = pipeline.periodic().stdout.decode()
    assert query(pipeline.db, "pragma user_version") == SCHEMA_VERSION
    # Unmerged word counts cannot become merged ones: dropped, and said so.
    assert pipeline.csv("top-10-word.csv") == [["word", "authors"]]
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
    upgrade(pipeline)
    assert "top words counted since" not in pipeline.periodic().stdout.decode()
    assert query(pipeline.db, "pragma user_version") == SCHEMA_VERSION


def test_upgrading_twice_changes_nothing(pipeline: Pipeline) -> None:
    pipeline.ingest([post("2025-03-16T12:01:00", "engineering bridges", ["en"])])
    pipeline.ingest([post("2025-03-16T12:01:01", "engineering bridge", ["en"], repo=did(2))])
    status = pipeline.periodic().stdout.decode()
    assert pipeline.csv("top-10-word.csv")[1:] == [["bridge", "2"]]
    assert "top words counted since" not in status


def test_an_older_schema_is_migrated_with_its_data(pipeline: Pipeline) -> None:
    with sqlite3.connect(pipeline.db) as conn:
        conn.executescript((FIXTURES / "schema-v0.sql").read_text())
        conn.execute("insert into likes_by_minute values ('2025-03-16 12:00', 42)")
    upgrade(pipeline)
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 12:00:00", "42"]]
    assert query(pipeline.db, "pragma user_version") >= 1
    pipeline.ingest([event("2025-03-16T12:00:30")])
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 12:00:00", "43"]]


def v3_database(pipeline: Pipeline) -> dict[str, list[tuple[object, ...]]]:
    """The v3 fixture, and its word and language rows before any upgrade."""
    with sqlite3.connect(pipeline.db) as conn:
        conn.executescript((FIXTURES / "schema-v3.sql").read_text(encoding="utf-8"))
    return tables(pipeline)


def tables(pipeline: Pipeline) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(pipeline.db) as conn:
        return {
            table: conn.execute(f"select * from {table} order by 1, 2").fetchall()
            for table in ("word_counts", "word_forms", "posts_by_lang", "likes_by_minute")
        }


def test_the_upgrade_from_v3_restarts_only_the_word_chart_and_says_so_once(pipeline: Pipeline) -> None:
    """Counts per post cannot become counts per author and day: the word chart starts over."""
    before = v3_database(pipeline)
    assert before["word_counts"], "the fixture must hold word counts"
    first = " ".join(upgrade(pipeline))
    after = tables(pipeline)
    assert query(pipeline.db, "pragma user_version") == SCHEMA_VERSION
    assert after["word_counts"] == after["word_forms"] == []
    assert after["posts_by_lang"] == before["posts_by_lang"]
    assert after["likes_by_minute"] == before["likes_by_minute"]
    words = len(before["word_counts"])
    assert (
        f"top words: started over, as a word now counts once per author a day (dropped {words} words" in first
    )
    assert upgrade(pipeline) == []
    assert "top words counted since" in pipeline.periodic().stdout.decode()


def test_handle_stream_upgrades_v3_and_says_so(pipeline: Pipeline) -> None:
    v3_database(pipeline)
    result = pipeline.ingest([post("2025-03-16T12:02:00", "engineering: we make bridges", ["en"])])
    assert result.stderr.decode().count("top words: started over") == 1
    pipeline.periodic()
    assert pipeline.csv("top-10-word.csv") == [["word", "authors"], ["bridges", "1"]]


def test_the_upgrade_from_v3_keeps_each_time_once_and_gives_the_runs_their_minutes(
    pipeline: Pipeline,
) -> None:
    v3_database(pipeline)
    with sqlite3.connect(pipeline.db) as conn:
        # A second run, whose events came in the basic ISO-8601 form.
        conn.execute(
            "insert into runs (started_at, ended_at, end_reason, first_event_time, last_event_time)"
            " values ('2026-12-01 14:06:00', '2026-12-01 14:07:00', 'signal', '20250316T120500', "
            "'20250316T120659.5')"
        )
    upgrade(pipeline)
    status = pipeline.periodic().stdout.decode()
    assert query(pipeline.db, "pragma user_version") == SCHEMA_VERSION
    with sqlite3.connect(pipeline.db) as conn:
        minutes = conn.execute("select first_minute, last_minute from runs order by run_id").fetchall()
        keys = [key for (key,) in conn.execute("select key from ingest_state")]
        partial = conn.execute("select time, likes from partial_minutes").fetchall()
    assert minutes == [("2025-03-16 12:00", "2025-03-16 12:01"), ("2025-03-16 12:05", "2025-03-16 12:06")]
    assert not {"first_event_time", "last_event_time", "last_commit_at"} & set(keys)
    assert partial == [
        ("2025-03-16 12:00:00", 5),
        ("2025-03-16 12:01:00", 0),
        ("2025-03-16 12:05:00", 0),
        ("2025-03-16 12:06:00", 0),
    ]
    # The status reads the times from the runs now: the latest run's last event.
    assert "last event 20250316T120659.5" in status
    pipeline.ingest([event("2025-03-16T12:10:00")])
    with sqlite3.connect(pipeline.db) as conn:
        assert conn.execute("select first_minute, last_minute from runs where run_id = 3").fetchone() == (
            "2025-03-16 12:10",
            "2025-03-16 12:10",
        )
        assert not {"first_event_time", "last_event_time", "last_commit_at"} & {
            key for (key,) in conn.execute("select key from ingest_state")
        }


def test_an_old_database_gains_far_off_likes(pipeline: Pipeline) -> None:
    pipeline.ingest([event("2025-03-16T12:00:00")])
    with closing(sqlite3.connect(pipeline.db)) as conn:
        conn.execute("alter table runs drop column far_off_likes")
        conn.execute("pragma user_version = 6")
    pipeline.ingest([event(f"2025-03-16T12:00:{s:02d}") for s in range(30)] + [event("9999-01-01T00:00:00")])
    assert query(pipeline.db, "pragma user_version") == SCHEMA_VERSION
    assert query(pipeline.db, "select group_concat(far_off_likes) from runs") == "0,1"


# The sha256 of schema.sql at each version: a change to schema.sql without a
# new SCHEMA_VERSION (and, if data must move, an upgrade step in db.py) fails here.
SCHEMA_SHA256 = {
    9: "4a3130aec3edb7d28c81946245c80e2da035f73a1aa487b783d2574454516109",
    10: "548c5069d231955c82a1846e03c9e4ea7f42bf470d0593b5ac72423979b7d32d",
}


def test_every_change_to_schema_sql_raises_the_version() -> None:
    found = hashlib.sha256(schema_sql().encode()).hexdigest()
    assert SCHEMA_SHA256.get(SCHEMA_VERSION) == found, (
        "schema.sql changed: raise db.SCHEMA_VERSION, add an upgrade step to db._upgrade if data"
        f" must move, and record {SCHEMA_VERSION + 1}: {found!r} in SCHEMA_SHA256"
    )


def test_periodic_reads_an_older_schema_without_changing_it(pipeline: Pipeline) -> None:
    v1_database(pipeline)
    before = pipeline.db.read_bytes()
    result = pipeline.periodic(status=1)
    assert result.stderr.decode().splitlines() == [
        f"periodic: error: {pipeline.db} has schema version 1, older than this blueskypipe's"
        f" {SCHEMA_VERSION}: start ./handle-stream once to upgrade it"
    ]
    assert pipeline.db.read_bytes() == before
    assert not pipeline.metrics.exists() or not list(pipeline.metrics.glob("*.csv"))


def test_every_start_recreates_the_views_from_schema_sql(pipeline: Pipeline) -> None:
    """Views hold no data: an edited view reaches existing databases at the next start."""
    pipeline.ingest([event("2025-03-16T12:00:00")])
    with closing(sqlite3.connect(pipeline.db)) as conn:
        conn.execute("drop view metric_posts_per_language")
        conn.execute("create view metric_posts_per_language as select 'stale' as lang, 0 as posts")
    pipeline.ingest([post("2025-03-16T12:00:01", "hello", ["de"])])
    pipeline.periodic()
    assert pipeline.csv("posts-per-language.csv")[1:] == [["de", "1"]]


def test_every_page_that_lists_the_end_reasons_lists_records_end_reason() -> None:
    # One enumeration; the schema's comment, the Datasette column note and
    # the operations page say the same, and the view names the same 'killed'.
    reasons = [reason.value for reason in EndReason]
    schema = " ".join(line.removeprefix("--").strip() for line in schema_sql().splitlines())
    listed = {
        "schema.sql": schema[schema.index("`end_reason`") : schema.index("power loss")],
        "browse/metadata.yml": yaml.safe_load((ROOT / "browse" / "metadata.yml").read_text())["databases"][
            "bluesky"
        ]["tables"]["runs"]["columns"]["end_reason"],
        "docs/operations.md": " ".join((ROOT / "docs" / "operations.md").read_text().split()),
    }
    for page, text in listed.items():
        for reason in reasons:
            assert reason in text, (page, reason)
    assert f"coalesce(r.end_reason, '{EndReason.KILLED.value}')" in schema_sql()
    quoted = set(re.findall(r"'([a-z ]+)'", listed["schema.sql"]))
    assert quoted == set(reasons), quoted
