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
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import IO

import clickhouse_connect
import orjson
import pytest

from blueskypipe import db
from blueskypipe.aggregate import Aggregator
from blueskypipe.clickhouse import ClickHouseStore
from blueskypipe.clickhouse import read_metrics as read_clickhouse
from blueskypipe.export import METRICS, read_metrics
from blueskypipe.lock import writer_running
from blueskypipe.records import EndReason
from blueskypipe.store import Store
from blueskypipe.voices import Voices
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
    engine.command("DROP TABLE IF EXISTS deltas")  # type: ignore[attr-defined]
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
        aggregator = Aggregator(resume=windows, voices=Voices(*stores[-1].load_voices()))
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


def test_a_batch_sent_again_counts_once(client: object) -> None:
    """An insert whose answer was lost (a timeout) is sent again with the
    same token: ClickHouse keeps the first."""
    store = ClickHouseStore(client)
    store.begin_run()
    aggregator = Aggregator()
    aggregator.add_lines(SAMPLE.read_bytes().splitlines())
    batch = aggregator.take_batch(final=True)
    store.write(batch)
    store._batch -= 1  # as if the first answer never came: the same token again
    store.write(batch)
    (total,) = client.query("SELECT sum(n) FROM deltas WHERE kind = 'minute'").result_rows[0]  # type: ignore[attr-defined]
    assert total == sum(batch.likes_by_minute.values()) > 0


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
    assert run("periodic", "--db", place, "--metrics-dir", str(tmp_path / "chdb")).returncode == 0
    sqlite = str(tmp_path / "bluesky.db")
    assert run("handle-stream", "--db", sqlite, stdin=b"".join(lines)).returncode == 0
    assert run("periodic", "--db", sqlite, "--metrics-dir", str(tmp_path / "sqlite")).returncode == 0
    assert (tmp_path / "sqlite" / "fast-likers.csv").read_bytes().count(b"\n") > 1, "fast likers to compare"
    # Not the top words: a text repeated by authors of both shares counts once,
    # for whichever share's writer saw it first, and one after another is not
    # the stream's order.
    for name in ("likes-per-minutes.csv", "fast-likers.csv", "posts-per-language.csv"):
        assert (tmp_path / "chdb" / name).read_bytes() == (tmp_path / "sqlite" / name).read_bytes(), name


def _likes_upto(lines: list[bytes]) -> list[int]:
    """likes[n]: the likes among the first n lines."""
    counts = [0]
    for line in lines:
        event = orjson.loads(line)
        counts.append(
            counts[-1] + (event["action"] == "create" and event["path"].startswith("app.bsky.feed.like/"))
        )
    return counts


def _status_events(status: bytes) -> int:
    found = re.search(rb", ([\d,]+) events?, ", status)
    assert found, status
    return int(found[1].replace(b",", b""))


def test_kill_9_leaves_whole_batches_and_a_resume_is_exact(tmp_path: Path) -> None:
    rng = random.Random(26)
    args = ("--rate", "500", "--fast-likers", "5", "--engineering-share", "0.2")
    stream = simulate_to_file(tmp_path / "events.jsonl", 60_000, 26, *args)
    lines = stream.read_bytes().splitlines(keepends=True)
    likes_upto = _likes_upto(lines)
    place = f"chdb://{tmp_path / 'ch'}"
    metrics = tmp_path / "chdb"
    done = 0
    for _ in range(4):
        proc = subprocess.Popen(
            [str(ROOT / "handle-stream"), "--db", place, "--progress-interval", "0.2"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stderr is not None
        writer = threading.Thread(target=_feed, args=(proc.stdin, lines[done:]), daemon=True)
        writer.start()
        # The kill lands a random while after the run's first commit: chdb's
        # start-up takes seconds on a loaded machine, and a kill before it
        # would test nothing.
        _wait_for_a_commit(proc.stderr)
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        time.sleep(rng.uniform(0.2, 2.0))
        proc.kill()
        proc.wait()
        writer.join(timeout=30)
        shown = run("periodic", "--db", place, "--metrics-dir", str(metrics))
        assert shown.returncode == 0, shown.stderr
        committed = _status_events(shown.stdout)
        assert done < committed < len(lines), "each run committed something before its kill"
        # Whole batches only: the likes are exactly those of the committed prefix.
        likes = sum(
            int(n)
            for _, n in csv.reader(io.StringIO((metrics / "likes-per-minutes.csv").read_text()))
            if n.isdigit()
        )
        assert likes == likes_upto[committed]
        done = committed
    assert run("handle-stream", "--db", place, stdin=b"".join(lines[done:])).returncode == 0
    assert run("periodic", "--db", place, "--metrics-dir", str(metrics)).returncode == 0
    sqlite = str(tmp_path / "bluesky.db")
    assert run("handle-stream", "--db", sqlite, stdin=b"".join(lines)).returncode == 0
    assert run("periodic", "--db", sqlite, "--metrics-dir", str(tmp_path / "sqlite")).returncode == 0
    for name in ("likes-per-minutes.csv", "top-10-word.csv", "posts-per-language.csv"):
        assert (metrics / name).read_bytes() == (tmp_path / "sqlite" / name).read_bytes(), name
    # Windows live in memory between graceful stops, so a kill can only shrink them.
    expected = dict(csv.reader(io.StringIO((tmp_path / "sqlite" / "fast-likers.csv").read_text())))
    for user, likes in csv.reader(io.StringIO((metrics / "fast-likers.csv").read_text())):
        if likes.isdigit():
            assert int(likes) <= int(expected[user])


def _wait_for_a_commit(stderr: IO[bytes]) -> None:
    """Read progress lines until one reports committed events."""
    for line in stderr:
        if re.search(rb"\| [1-9][\d,]* events? ", line):
            return
    raise AssertionError("handle-stream ended before its first commit")


def _feed(pipe: IO[bytes], lines: list[bytes]) -> None:
    """Write `lines` in chunks until they end or the reader is killed."""
    try:
        for start in range(0, len(lines), 500):
            pipe.write(b"".join(lines[start : start + 500]))
            pipe.flush()
            time.sleep(0.05)  # about 10,000 lines a second: several batches a second
        pipe.close()
    except (BrokenPipeError, ValueError, OSError):
        pass
