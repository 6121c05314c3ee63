"""The ClickHouse store on the real engine (chdb, in-process): the same
batches give the same four metrics as SQLite, a batch sent twice counts
once, and the executables on `--db chdb://...` write SQLite's CSVs."""

from __future__ import annotations

import csv
import io
import os
import random
import re
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import clickhouse_connect
import orjson
import pytest

from blueskypipe import clickhouse_status, db, health
from blueskypipe.aggregate import Aggregator
from blueskypipe.clickhouse import COLUMNS, ClickHouseStore
from blueskypipe.clickhouse import read_metrics as read_clickhouse
from blueskypipe.errors import StoreError
from blueskypipe.export import METRICS, read_metrics
from blueskypipe.lock import writer_running
from blueskypipe.records import EndReason
from blueskypipe.store import Store
from blueskypipe.voices import Voices
from tests import reference
from tests.feeds import LOSS_SECONDS, PIPE_BYTES, Lines, PacedFeed, likes_prefix
from tests.helpers import ROOT, SAMPLE, did, event, post, simulate_to_file, wait_for

pytestmark = pytest.mark.clickhouse

CHUNK = 2_000  # lines per batch


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One chdb engine for the module: chdb allows one per process."""
    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path_factory.mktemp('chdb')}")
    yield client
    client.close()


@pytest.fixture
def client(engine: object) -> object:
    for table in ("deltas", "events"):
        engine.command(f"DROP TABLE IF EXISTS {table}")  # type: ignore[attr-defined]
    return engine


def feed(lines: list[bytes], *stores: Store | ClickHouseStore, runs: int = 1) -> None:
    """Fold `lines` in batches of CHUNK and write every batch to each store,
    in `runs` runs, each resuming what the one before saved."""
    per_run = -(-len(lines) // runs)
    for start in range(0, len(lines), per_run):
        for store in stores:
            store.begin_run()
        # Resumed from ClickHouse's saved state: SQLite's is the yardstick.
        windows, _ = stores[-1].take_windows()
        aggregator = Aggregator(
            resume=windows, voices=Voices(*stores[-1].load_voices()), keep_events=stores[-1].keeps_events
        )
        part = lines[start : start + per_run]
        for offset in range(0, len(part), CHUNK):
            aggregator.add_lines(part[offset : offset + CHUNK])
            final = offset + CHUNK >= len(part)
            batch = aggregator.take_batch(final=final)
            for store in stores:
                store.write(batch)
        for store in stores:
            store.end_run(EndReason.END_OF_INPUT)


def sqlite_metrics(path: Path) -> dict[str, tuple[tuple[str, ...], list[tuple[object, ...]]]]:
    with db.snapshot(path) as conn:
        return {name: (table.header, table.rows) for name, table in read_metrics(conn).items()}


@pytest.mark.parametrize("runs", [1, 3])
def test_a_simulated_stream_gives_the_same_metrics(tmp_path: Path, client: object, runs: int) -> None:
    stream = simulate_to_file(
        tmp_path / "events.jsonl", 60_000, 11, "--fast-likers", "3", "--engineering-share", "0.3"
    )
    lines = stream.read_bytes().splitlines()
    with closing(Store(tmp_path / "bluesky.db")) as sqlite:
        feed(lines, sqlite, ClickHouseStore(client), runs=runs)
    expected = sqlite_metrics(tmp_path / "bluesky.db")
    assert expected["fast-likers.csv"][1], "the stream has fast likers"
    assert read_clickhouse(client) == expected


def test_the_real_sample_and_garbage_give_the_same_metrics(tmp_path: Path, client: object) -> None:
    lines = SAMPLE.read_bytes().splitlines()
    lines[10:10] = [b"", b"{", b'{"kind": "commit"}', b"\xff\xfe", b'{"timestamp": "9999-12-31T23:59:59"}']
    with closing(Store(tmp_path / "bluesky.db")) as sqlite:
        feed(lines, sqlite, ClickHouseStore(client))
    assert read_clickhouse(client) == sqlite_metrics(tmp_path / "bluesky.db")


def test_edge_lines_give_the_same_metrics(tmp_path: Path, client: object) -> None:
    """Silences a run saw (zero rows), a gap of days (none), late likes, odd
    timestamps, multi-tag and invalid languages, across two runs."""
    lines = [
        *(event(f"2025-03-16T12:00:{s:02d}", repo=did(s % 3)) for s in range(0, 60, 5)),
        event("2025-03-16T12:05:00"),  # four silent minutes before it
        event("2025-03-16T11:58:30", repo=did(7)),  # late, by seven minutes
        event("20250316T120610Z"),  # the basic ISO-8601 form
        event("2025-03-16T12:06:59.999999+00:00"),
        post("2025-03-16T12:07:00", "Engineering bridges in Porto", ["pt-BR", "en-US", "en"]),
        post("2025-03-16T12:07:01", "Engenharia de pontes", ["x-klingon", "zz"]),
        post("2025-03-16T12:07:02", "no langs at all"),
        event("2025-03-19T09:00:00"),  # three days later: no zeros over the gap
        event("2025-03-19T09:03:00"),
    ]
    with closing(Store(tmp_path / "bluesky.db")) as sqlite:
        feed(lines, sqlite, ClickHouseStore(client), runs=2)
    expected = sqlite_metrics(tmp_path / "bluesky.db")
    assert ("2025-03-16 12:03:00", 0) in expected["likes-per-minutes.csv"][1], "a silence the run saw"
    assert read_clickhouse(client) == expected


class Clock:
    """A wall clock the test sets, read by both stores alike."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_status_is_sqlites_at_every_moment(tmp_path: Path, client: object) -> None:
    """The same batches at the same wall times give periodic the same
    Status on both stores: runs ended, killed and running, gaps between
    them, a jump of event time, the rate, the chart."""
    lines = simulate_to_file(tmp_path / "events.jsonl", 24_000, 5, "--rate", "20").read_bytes().splitlines()
    lines.insert(16_000, event("2031-01-01T00:00:00"))  # in run 3: a like far from the stream's time
    # The wall clock keeps pace with the stream's time, as live.
    clock = Clock(datetime.fromisoformat(orjson.loads(lines[0])["timestamp"]).timestamp())
    sqlite = Store(tmp_path / "bluesky.db", clock=clock)
    house = ClickHouseStore(client, clock=clock)
    stores = (sqlite, house)

    def moments() -> Iterator[float]:
        """Now, the moments after the latest commit that the status judges
        differently (fresh, rate of a young run, stale), and much later."""
        yield from (clock.now + 0.4, clock.now + 30, clock.now + 75, clock.now + 3 * 86400)

    def compare() -> None:
        for now in moments():
            with db.snapshot(tmp_path / "bluesky.db") as conn:
                expected = health.read(conn, now)
            assert clickhouse_status.read(client, "", now, None) == expected

    # Run 1 ends; run 2 is killed; a run that reads nothing is discarded;
    # run 3 ends on an error; after a skipped stretch (a gap in event time),
    # run 4 is running at each check, and at last commits without events.
    discard = "discard"
    parts = [
        (lines[:6_000], EndReason.END_OF_INPUT),
        (lines[6_000:9_000], None),
        ([], discard),
        (lines[9_000:12_000], EndReason.ERROR),
        (lines[15_000:], None),
    ]
    for part, end in parts:
        clock.now += 120
        for store in stores:
            store.begin_run()
        aggregator = Aggregator()
        for offset in range(0, len(part), 1_500):
            clock.now += 75.0  # 1,500 events at 20 a second
            aggregator.add_lines(part[offset : offset + 1_500])
            batch = aggregator.take_batch()
            for store in stores:
                store.write(batch)
            if offset in (0, 1_500, 6_000):
                compare()
        clock.now += 0.5
        for store in stores:
            if end is discard:
                store.discard_run()
            elif end is not None:
                store.end_run(end)  # type: ignore[arg-type]
        compare()
    for _ in range(2):  # heartbeats: commits of a run whose source went quiet
        clock.now += 40
        for store in stores:
            store.write(aggregator.take_batch())
        compare()
    sqlite.close()
    with db.snapshot(tmp_path / "bluesky.db") as conn:
        status = health.read(conn, clock.now + 1)
    assert status.run is not None and status.run.run_id == 4 and status.run.far_off_likes == 1
    assert [(gap.after_run, gap.after_run_ended_by) for gap in status.gaps] == [
        (3, "error"),
        (2, "killed"),
        (1, "end of input"),
    ]
    assert status.starved, "no events for over a minute while commits go on"
    assert len(status.recent_likes) == 20  # from the first run's first minute
    assert status.missed_gaps == 3 and status.missed_seconds > 0
    assert None in dict(status.recent_likes).values(), "the skipped stretch is drawn as such"


def test_a_start_forgets_the_saved_state_no_run_reads(tmp_path: Path, client: object) -> None:
    """What SQLite's upserts replace, a start deletes: expired voice blocks,
    all but the latest recent times and kept ends, older runs' windows.
    The metrics, and what the next run resumes from, stay the same."""
    stream = simulate_to_file(
        tmp_path / "events.jsonl", 60_000, 21, "--fast-likers", "3", "--engineering-share", "0.3"
    )
    with closing(Store(tmp_path / "bluesky.db")) as sqlite:
        feed(stream.read_bytes().splitlines(), sqlite, ClickHouseStore(client), runs=3)

    def counts() -> dict[str, int]:
        return dict(
            client.query(  # type: ignore[attr-defined]
                "SELECT kind, count() FROM deltas WHERE kind IN ('kept', 'recent', 'window', 'voice')"
                " GROUP BY kind"
            ).result_rows
        )

    before = counts()
    assert before["kept"] > 1 and before["recent"] > 1, "saved state to forget"
    # Each start kept only the windows of the run before it, and its own.
    assert _window_runs(client) == {2, 3}
    # A voice block that ended long before the kept ends (the stream here
    # is shorter than the day a block lasts).
    client.insert("deltas", [["", 3, 999, "voice", "12345", "", 1]], column_names=COLUMNS)  # type: ignore[attr-defined]
    resumed = ClickHouseStore(client).load_voices()
    store = ClickHouseStore(client)
    store.begin_run()
    after = counts()
    assert after["voice"] == before["voice"], "only the expired block went"
    assert after["kept"] == after["recent"] == 1
    assert _window_runs(client) == {3}
    assert store.load_voices() == resumed
    assert read_clickhouse(client) == sqlite_metrics(tmp_path / "bluesky.db")


def _window_runs(client: object) -> set[int]:
    rows = client.query("SELECT DISTINCT run FROM deltas WHERE kind = 'window'").result_rows  # type: ignore[attr-defined]
    return {run for (run,) in rows}


def test_a_batch_sent_again_counts_once(client: object) -> None:
    """An insert whose answer was lost (a timeout) is sent again with the
    same token: ClickHouse keeps the first."""
    store = ClickHouseStore(client)
    store.begin_run()
    aggregator = Aggregator(keep_events=True)
    aggregator.add_lines(SAMPLE.read_bytes().splitlines())
    batch = aggregator.take_batch(final=True)
    store.write(batch)
    store._batch -= 1  # as if the first answer never came: the same token again
    store.write(batch)
    (total,) = client.query("SELECT sum(n) FROM deltas WHERE kind = 'minute'").result_rows[0]  # type: ignore[attr-defined]
    assert total == sum(batch.likes_by_minute.values()) > 0
    assert _count(client, "events") == batch.events == len(batch.valid_events or [])


def test_every_valid_event_is_kept_as_received(client: object) -> None:
    """The events table holds each valid line once, and no other, with the
    fields a question over history starts from; a timestamp beyond the years
    ClickHouse holds is kept as written, its time at the nearest end."""
    lines = SAMPLE.read_bytes().splitlines()
    lines[10:10] = [b"{", b'{"kind": "commit"}', b"\xff\xfe", b'{"timestamp": "9999-12-31T23:59:59"}']
    lines += [event("0001-01-01T00:00:00"), event("9999-12-31T23:59:59.5"), event("20250316T120610Z")]
    feed(lines, ClickHouseStore(client), runs=2)
    rows = client.query(  # type: ignore[attr-defined]
        "SELECT line, timestamp, did, collection, action, text, langs, toString(time) FROM events"
    ).result_rows
    valid = [line.decode() for line in lines if reference.event_of(line) is not None]
    assert sorted(row[0] for row in rows) == sorted(valid)
    times = {}
    for line, timestamp, did_, collection, action, text, langs, at in rows:
        obj = orjson.loads(line)
        record = obj["record"] or {}
        assert (timestamp, did_, action) == (obj["timestamp"], obj["repo"], obj["action"])
        assert collection == obj["path"].partition("/")[0]
        assert (text, langs) == (record.get("text") or "", record.get("langs") or [])
        times[timestamp] = at
    assert times["0001-01-01T00:00:00"] == "1900-01-01 00:00:00.000000"
    assert times["9999-12-31T23:59:59.5"] == "2299-12-31 23:59:59.000000"
    assert times["20250316T120610Z"] == "2025-03-16 12:06:10.000000"


def test_the_queries_docs_clickhouse_shows_run(client: object) -> None:
    """Each query of docs/clickhouse.md, on the tables a run leaves."""
    text = (ROOT / "docs" / "clickhouse.md").read_text()
    queries = [
        q.strip()
        for block in re.findall(r"```sql\n(.*?)```", text, re.DOTALL)
        for q in re.sub(r"^--.*$", "", block, flags=re.MULTILINE).split(";")
        if q.strip()
    ]
    assert len(queries) >= 5
    now = _now_text()
    lines = [*SAMPLE.read_bytes().splitlines(), post(now, "Bridge engineering today", ["en"]), event(now)]
    feed(lines, ClickHouseStore(client))
    answers = [client.query(q).result_rows for q in queries]  # type: ignore[attr-defined]
    assert all(answers[:3]), "each question over the raw events finds something"
    assert sum(n for _, n in answers[3]) == sum(b'"app.bsky.feed.like/' in line for line in lines)


def _now_text() -> str:
    """Now, as a timestamp the docs' queries compare with ClickHouse's now()."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


class DeltasFail:
    """The engine's client, but for one insert into `deltas` that fails:
    a batch whose events went in and whose commit did not."""

    def __init__(self, client: object) -> None:
        self.client = client
        self.failed = False

    def insert(self, table: str, *args: object, **kwargs: object) -> object:
        if table == "deltas" and not self.failed:
            self.failed = True
            msg = "Code: 243. DB::Exception: Cannot reserve space (NOT_ENOUGH_SPACE)"
            raise RuntimeError(msg)
        return self.client.insert(table, *args, **kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.client, name)


def test_events_whose_deltas_never_went_in_go_at_the_next_start(client: object) -> None:
    """A batch's events are inserted before its deltas; a failure (or a
    kill) between the two leaves events no rollup counted, which the
    share's next run deletes. The end the failed run records is its own
    insert, not a repeat of the failed batch's."""
    lines = SAMPLE.read_bytes().splitlines()
    store = ClickHouseStore(client)
    store.begin_run()
    aggregator = Aggregator(keep_events=True)
    aggregator.add_lines(lines[:200])
    store.write(aggregator.take_batch())
    aggregator.add_lines(lines[200:])
    failing = DeltasFail(client)
    store.client = failing  # type: ignore[assignment]
    with pytest.raises(StoreError, match="NOT_ENOUGH_SPACE"):
        store.write(aggregator.take_batch())
    assert failing.failed
    store.end_run(EndReason.ERROR)
    assert _count(client, "events") == sum(reference.event_of(line) is not None for line in lines)
    other = ClickHouseStore(client, share="other")  # another share's runs are not its to judge
    other.begin_run()
    assert _count(client, "events") == sum(reference.event_of(line) is not None for line in lines)
    ClickHouseStore(client).begin_run()
    assert _count(client, "events") == sum(reference.event_of(line) is not None for line in lines[:200])
    assert _count(client, "events") == _counted_events(client)
    ended = client.query(  # type: ignore[attr-defined]
        "SELECT k2 FROM deltas WHERE kind = 'run' AND k1 = 'end' AND run = 1"
    ).result_rows
    assert ended == [("error",)]


def test_the_days_events_are_kept_are_the_last_writers(client: object) -> None:
    def ttl() -> str:
        ((engine,),) = client.query(  # type: ignore[attr-defined]
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'events'"
        ).result_rows
        return re.findall(r"TTL .*?\)", engine)[0]

    ClickHouseStore(client)
    assert ttl() == "TTL received + toIntervalDay(7)"
    ClickHouseStore(client)
    assert _count(client, "system.mutations WHERE table = 'events'") == 0, "the same TTL is left alone"
    ClickHouseStore(client, keep_events_days=30)
    assert ttl() == "TTL received + toIntervalDay(30)"
    # None kept: the table and its setting stay, and nothing is added.
    store = ClickHouseStore(client, keep_events_days=0)
    store.begin_run()
    aggregator = Aggregator(keep_events=store.keeps_events)
    aggregator.add_lines(SAMPLE.read_bytes().splitlines())
    store.write(aggregator.take_batch(final=True))
    assert ttl() == "TTL received + toIntervalDay(30)"
    assert _count(client, "events") == 0 < _counted_events(client)


def _count(client: object, table: str) -> int:
    return client.query(f"SELECT count() FROM {table}").result_rows[0][0]  # type: ignore[attr-defined]


def _counted_events(client: object) -> int:
    """The events the rollups counted."""
    return client.query(  # type: ignore[attr-defined]
        "SELECT sum(n) FROM deltas WHERE kind = 'count' AND k1 = 'events'"
    ).result_rows[0][0]


def run(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / args[0]), *args[1:]],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_the_executables_on_chdb_write_the_csvs_sqlite_does(tmp_path: Path) -> None:
    args = ("--rate", "250", "--fast-likers", "2", "--engineering-share", "0.3")
    lines = (
        simulate_to_file(tmp_path / "events.jsonl", 30_000, 12, *args).read_bytes().splitlines(keepends=True)
    )
    halves = [b"".join(lines[:12_345]), b"".join(lines[12_345:])]  # two runs: windows resume
    places = {"chdb": f"chdb://{tmp_path / 'ch'}", "sqlite": str(tmp_path / "bluesky.db")}
    for name, place in places.items():
        for half in halves:
            assert run("handle-stream", "--db", place, stdin=half).returncode == 0
        assert run("periodic", "--db", place, "--metrics-dir", str(tmp_path / name)).returncode == 0
    assert (tmp_path / "sqlite" / "fast-likers.csv").read_bytes().count(b"\n") > 1, "fast likers to compare"
    for name in METRICS:
        assert (tmp_path / "chdb" / name).read_bytes() == (tmp_path / "sqlite" / name).read_bytes(), name


def test_the_sqlite_path_imports_nothing_the_extra_brings(tmp_path: Path) -> None:
    """With the extra installed (as here), handle-stream on SQLite loads
    none of it, nor numpy, which nltk would import if it could."""
    script = (
        "import sys\n"
        "from blueskypipe import cli, words\n"
        "code = cli.handle_stream(['--db', sys.argv[1]])\n"
        "words.tools()\n"
        "extra = ('numpy', 'pandas', 'pyarrow', 'chdb', 'clickhouse_connect')\n"
        "loaded = [m for m in extra if sys.modules.get(m)]\n"
        "assert not loaded, loaded\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "bluesky.db")],
        input=SAMPLE.read_bytes(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()


def test_a_password_in_a_dsn_is_never_shown(tmp_path: Path) -> None:
    dsn = "clickhouse://alice:s3cret@127.0.0.1:1/bluesky"  # nothing listens on port 1
    results = [
        run("handle-stream", "--db", dsn, stdin=b"{}\n"),
        run("handle-stream", stdin=b"{}\n", env={"BLUESKY_DB": dsn}),
        run("periodic", "--metrics-dir", str(tmp_path / "m"), env={"BLUESKY_DB": dsn}),
    ]
    for result in results:
        assert result.returncode == 1
        assert result.stderr.count(b"\n") == 1, result.stderr
        assert b"alice:***@127.0.0.1:1/bluesky" in result.stderr
        assert b"s3cret" not in result.stdout + result.stderr
    shown = run("handle-stream", "--help", env={"BLUESKY_DB": dsn})
    assert shown.returncode == 0
    assert b"s3cret" not in shown.stdout + shown.stderr


def test_a_second_process_on_an_embedded_database_gets_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "ch"
    place = f"chdb://{folder}"
    first = subprocess.Popen(
        [str(ROOT / "handle-stream"), "--db", place], stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for(lambda: writer_running(folder) is True)
        second = run("handle-stream", "--db", place)
        assert second.returncode == 2
        assert second.stderr.count(b"\n") == 1, second.stderr
        assert b"another handle-stream" in second.stderr
        reader = run("periodic", "--db", place, "--metrics-dir", str(tmp_path / "m"))
        assert reader.returncode == 1
        assert reader.stderr.count(b"\n") == 1, reader.stderr
        assert b"allows one process at a time" in reader.stderr
    finally:
        assert first.stdin is not None
        first.stdin.close()
        assert first.wait(timeout=60) == 0


def test_a_run_after_a_discarded_one_loses_nothing(tmp_path: Path) -> None:
    """A run that read nothing leaves no run behind; the next one takes its
    number, and its batches must not be taken for the discarded run's."""
    place = f"chdb://{tmp_path / 'ch'}"
    assert run("handle-stream", "--db", place).returncode == 0  # no input: discarded
    assert run("handle-stream", "--db", place, stdin=SAMPLE.read_bytes()).returncode == 0
    assert run("periodic", "--db", place, "--metrics-dir", str(tmp_path / "chdb")).returncode == 0
    sqlite = str(tmp_path / "bluesky.db")
    assert run("handle-stream", "--db", sqlite, stdin=SAMPLE.read_bytes()).returncode == 0
    assert run("periodic", "--db", sqlite, "--metrics-dir", str(tmp_path / "sqlite")).returncode == 0
    for name in METRICS:
        assert (tmp_path / "chdb" / name).read_bytes() == (tmp_path / "sqlite" / name).read_bytes(), name


def test_periodic_before_any_writer_says_so_and_writes_empty_files(tmp_path: Path) -> None:
    result = run("periodic", "--db", f"chdb://{tmp_path / 'ch'}", "--metrics-dir", str(tmp_path / "m"))
    assert result.returncode == 3
    assert b"start ./handle-stream first" in result.stdout
    assert (tmp_path / "m" / "fast-likers.csv").read_bytes() == b"user_id,likes\n"


def test_writers_of_two_shares_one_after_another_count_as_one(tmp_path: Path) -> None:
    """Two handle-streams, each fed the users of one partition (by DID), as
    consumers of a partitioned log would be, into one database."""
    args = ("--rate", "250", "--fast-likers", "2")
    lines = (
        simulate_to_file(tmp_path / "events.jsonl", 20_000, 13, *args).read_bytes().splitlines(keepends=True)
    )
    shares: dict[str, list[bytes]] = {"a": [], "b": []}
    for line in lines:
        repo = str(orjson.loads(line).get("repo"))
        shares["ab"[zlib.crc32(repo.encode()) % 2]].append(line)
    place = f"chdb://{tmp_path / 'ch'}"
    for share, part in shares.items():
        assert run("handle-stream", "--db", place, "--share", share, stdin=b"".join(part)).returncode == 0
    shown = run("periodic", "--db", place, "--metrics-dir", str(tmp_path / "chdb"))
    assert shown.returncode == 0
    # A status for each share, with its own writer's run and counts.
    for share, part in shares.items():
        head = re.search(
            rf"^{re.escape(place)} share {share}: .*, ([\d,]+) events?, ".encode(), shown.stdout, re.M
        )
        assert head, shown.stdout
        assert int(head[1].replace(b",", b"")) == len(part)
    assert shown.stdout.count(b"handle-stream is not running: run 1 ended (end of input)") == 2
    sqlite = str(tmp_path / "bluesky.db")
    assert run("handle-stream", "--db", sqlite, stdin=b"".join(lines)).returncode == 0
    assert run("periodic", "--db", sqlite, "--metrics-dir", str(tmp_path / "sqlite")).returncode == 0
    assert (tmp_path / "sqlite" / "fast-likers.csv").read_bytes().count(b"\n") > 1, "fast likers to compare"
    # Not the top words: a text repeated by authors of both shares counts once,
    # for whichever share's writer saw it first, and one after another is not
    # the stream's order.
    for name in ("likes-per-minutes.csv", "fast-likers.csv", "posts-per-language.csv"):
        assert (tmp_path / "chdb" / name).read_bytes() == (tmp_path / "sqlite" / name).read_bytes(), name


def _status_events(status: bytes) -> int:
    found = re.search(rb", ([\d,]+) events?, ", status)
    assert found, status
    return int(found[1].replace(b",", b""))


def test_kill_9_leaves_whole_batches_and_a_resume_is_exact(tmp_path: Path) -> None:
    """Kills land a random while after each run's first commit (chdb's
    start-up takes seconds on a loaded machine): what is committed is a
    prefix of whole batches, as much as SQLite's loss bound says, and every
    table agrees with every other once the next run has started."""
    rng = random.Random(26)
    args = ("--rate", "500", "--fast-likers", "5", "--engineering-share", "0.2")
    source = Lines(simulate_to_file(tmp_path / "events.jsonl", 150_000, 26, *args))
    lines = source.data.splitlines(keepends=True)
    likes_upto = likes_prefix([orjson.loads(line) for line in lines])
    place = f"chdb://{tmp_path / 'ch'}"
    metrics = tmp_path / "chdb"
    done = 0
    for _ in range(4):
        proc = subprocess.Popen(
            [str(ROOT / "handle-stream"), "--db", place, "--progress-interval", "0.2"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        progress = Progress(proc)
        # The feed begins once the engine is open, as a live source would
        # wait for its consumer; the kill lands a random while after the
        # run's first commit.
        progress.wait_for(rb"reading stdin into")
        feed = PacedFeed(proc, source, done)
        progress.wait_for(rb"\| [1-9][\d,]* events? ")
        time.sleep(rng.uniform(0.2, 2.0))
        killed_at = time.monotonic()
        proc.kill()
        proc.wait()
        feed.stop()
        assert feed.fed_by(killed_at) < len(lines) - 10_000, "the input ran short"
        shown = run("periodic", "--db", place, "--metrics-dir", str(metrics))
        assert shown.returncode == 0, shown.stderr
        assert b"ended without a word (killed or crashed)" in shown.stdout, shown.stdout
        committed = _status_events(shown.stdout)
        assert done < committed < len(lines), "each run committed something before its kill"
        # Whole batches only: the likes are exactly those of the committed prefix.
        likes = sum(
            int(n)
            for _, n in csv.reader(io.StringIO((metrics / "likes-per-minutes.csv").read_text()))
            if n.isdigit()
        )
        assert likes == likes_upto[committed]
        owed = feed.fed_by(killed_at - LOSS_SECONDS)
        assert source.starts[committed] >= source.starts[owed] - PIPE_BYTES, (
            f"{owed - committed:,} lines fed more than {LOSS_SECONDS} s before the kill were lost"
        )
        done = committed
    assert run("handle-stream", "--db", place, stdin=b"".join(lines[done:])).returncode == 0
    assert run("periodic", "--db", place, "--metrics-dir", str(metrics)).returncode == 0
    sqlite = str(tmp_path / "bluesky.db")
    assert run("handle-stream", "--db", sqlite, stdin=b"".join(lines)).returncode == 0
    assert run("periodic", "--db", sqlite, "--metrics-dir", str(tmp_path / "sqlite")).returncode == 0
    for name in ("likes-per-minutes.csv", "top-10-word.csv", "posts-per-language.csv"):
        assert (metrics / name).read_bytes() == (tmp_path / "sqlite" / name).read_bytes(), name
    assert _chdb_rows(
        tmp_path / "ch",
        "SELECT (SELECT count() FROM events),"
        " (SELECT sum(n) FROM deltas WHERE kind = 'count' AND k1 = 'events')",
    ) == [[len(lines)] * 2], "each event once in the events table, and counted once"
    # Windows live in memory between graceful stops, so a kill can only shrink them.
    expected = dict(csv.reader(io.StringIO((tmp_path / "sqlite" / "fast-likers.csv").read_text())))
    for user, likes in csv.reader(io.StringIO((metrics / "fast-likers.csv").read_text())):
        if likes.isdigit():
            assert int(likes) <= int(expected[user])


class Progress:
    """The stderr lines of a handle-stream, read on a thread as they come."""

    def __init__(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        self.lines: list[bytes] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(proc.stderr,), daemon=True).start()

    def _read(self, stderr: IO[bytes]) -> None:
        for line in stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for(self, pattern: bytes, timeout: float = 120.0) -> None:
        """Until a line matches `pattern`; fails the test after `timeout` seconds."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: any(re.search(pattern, line) for line in self.lines), timeout=timeout
            )
        assert found, f"no line like {pattern!r} in {timeout:g} s: {b''.join(self.lines)!r}"


def _chdb_rows(folder: Path, sql: str) -> list[list[object]]:
    """The rows of `sql` on the chdb database in `folder`, read by another
    process: chdb allows one database per process, and this one has its own."""
    script = (
        "import sys, clickhouse_connect, orjson;"
        "rows = clickhouse_connect.get_client(dsn=sys.argv[1]).query(sys.argv[2]).result_rows;"
        "sys.stdout.buffer.write(orjson.dumps([list(r) for r in rows]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, f"chdb://{folder}", sql], capture_output=True, check=True, timeout=120
    )
    return orjson.loads(done.stdout)
