"""Export alone: the metric views read from a real database, CSVs replaced atomically, the export lock."""

from __future__ import annotations

import csv
import fcntl
import io
import os
import re
import sqlite3
import stat
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from blueskypipe.export import (
    LOCK_NAME,
    METRICS,
    ExportError,
    Table,
    exclusive,
    read_metrics,
    write_csv,
    write_csvs,
    write_missing,
)
from blueskypipe.records import Batch, Peak
from blueskypipe.store import Store
from blueskypipe.times import MICROS_PER_DAY
from tests.helpers import ROOT, wait_for

NOON = date(2025, 3, 16).toordinal() * MICROS_PER_DAY + 12 * 3_600_000_000


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database made by the writer, with a row in each metric."""
    store = Store(tmp_path / "bluesky.db")
    try:
        store.begin_run()
        store.write(
            Batch(
                likes_by_user_minute={"2025-03-16 12:00": Counter({"did:plc:a": 2, "did:plc:b": 1})},
                fast_likers={"did:plc:a": Peak(50, NOON, NOON + 59_000_000)},
                word_counts=Counter({"engineer": 1}),
                word_forms=Counter({("engineer", "engineers"): 1}),
                posts_by_lang=Counter({"en": 1}),
                lines=4,
            )
        )
    finally:
        store.close()
    return store.path


@pytest.fixture
def conn(db: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    yield conn
    conn.close()


def view_columns(conn: sqlite3.Connection, view: str) -> tuple[str, ...]:
    """A view's column names as SQLite's catalogue lists them."""
    return tuple(row[1] for row in conn.execute(f"PRAGMA table_info({view})"))


def documented_headers() -> dict[str, tuple[str, str]]:
    """file -> (view, header) from the table of docs/metrics.md."""
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+\.csv)` \| `([^`]+)` \| `([^`]+)` \|", text, re.MULTILINE)
    return {name: (view, header) for name, view, header in rows}


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def leftovers(folder: Path) -> list[str]:
    """Anything in `folder` besides the metrics files and the export lock."""
    return sorted(p.name for p in folder.iterdir() if p.name not in METRICS and p.name != LOCK_NAME)


def test_read_metrics_gives_each_view_with_its_columns(conn: sqlite3.Connection) -> None:
    tables = read_metrics(conn)
    assert set(tables) == set(METRICS)
    for name, view in METRICS.items():
        assert tables[name].header == view_columns(conn, view), name
        assert tables[name].rows == conn.execute(f"SELECT * FROM {view}").fetchall(), name
    assert tables["likes-per-minutes.csv"].rows == [("2025-03-16 12:00:00", 3)]
    assert tables["fast-likers.csv"].rows == [("did:plc:a", 50)]
    assert tables["top-10-word.csv"].rows == [("engineers", 1)]
    assert tables["posts-per-language.csv"].rows == [("en", 1)]


def test_the_headers_are_the_documented_ones(conn: sqlite3.Connection) -> None:
    documented = documented_headers()
    assert set(documented) == set(METRICS)
    for name, table in read_metrics(conn).items():
        view, header = documented[name]
        assert METRICS[name] == view
        assert ",".join(table.header) == header


def test_write_csv_replaces_the_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "top-10-word.csv"
    path.write_bytes(b"old,file\n")
    path.chmod(0o600)
    # A reader that opened the old file keeps reading the old file whole.
    with path.open("rb") as reader:
        write_csv(path, Table(("word", "posts"), [("a,b", 2), ('say "hi"', 1), ("two\nlines", 1)]))
        assert reader.read() == b"old,file\n"
    assert path.read_bytes() == b'word,posts\n"a,b",2\n"say ""hi""",1\n"two\nlines",1\n'
    assert csv_rows(path) == [["word", "posts"], ["a,b", "2"], ['say "hi"', "1"], ["two\nlines", "1"]]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "no temp file left behind"


def test_a_failed_write_csv_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    class Unwritable:
        def __str__(self) -> str:
            msg = "cannot be written"
            raise ValueError(msg)

    path = tmp_path / "fast-likers.csv"
    path.write_bytes(b"user_id,likes\nold,1\n")
    with pytest.raises(ValueError, match="cannot be written"):
        write_csv(path, Table(("user_id", "likes"), [("a", 1), (Unwritable(), 2)]))
    assert path.read_bytes() == b"user_id,likes\nold,1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_write_csvs_writes_every_view_with_its_header(tmp_path: Path, conn: sqlite3.Connection) -> None:
    metrics = tmp_path / "metrics" / "nested"
    write_csvs(metrics, read_metrics(conn))
    assert sorted(p.name for p in metrics.iterdir()) == sorted(METRICS)
    for name, view in METRICS.items():
        rows = csv_rows(metrics / name)
        assert tuple(rows[0]) == view_columns(conn, view), name
        assert rows[1:] == [[str(value) for value in row] for row in conn.execute(f"SELECT * FROM {view}")]


def test_write_csvs_where_a_file_stands_for_the_folder_raises(
    tmp_path: Path, conn: sqlite3.Connection
) -> None:
    blocked = tmp_path / "metrics"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(ExportError, match="cannot write metrics to"):
        write_csvs(blocked, read_metrics(conn))


def test_write_csvs_into_a_read_only_folder_raises(tmp_path: Path, conn: sqlite3.Connection) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    metrics.chmod(0o555)
    try:
        probe = metrics / "probe"
        try:
            probe.touch()
        except PermissionError:
            pass
        else:
            probe.unlink()
            pytest.skip("this user writes to read-only folders anyway (root)")
        with pytest.raises(ExportError, match="cannot write metrics to"):
            write_csvs(metrics, read_metrics(conn))
        assert list(metrics.iterdir()) == []
    finally:
        metrics.chmod(0o755)


def test_write_missing_writes_only_files_that_do_not_exist(tmp_path: Path, conn: sqlite3.Connection) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    kept = metrics / "fast-likers.csv"
    kept.write_bytes(b"hand,made\r\nnot a header\n")
    before = kept.stat()
    written = write_missing(metrics)
    assert sorted(written) == sorted(set(METRICS) - {kept.name})
    assert kept.read_bytes() == b"hand,made\r\nnot a header\n"
    after = kept.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), "never replaced"
    for name in written:
        # Header only; the header the same as a real database's view gives.
        assert (metrics / name).read_text(encoding="utf-8") == ",".join(
            view_columns(conn, METRICS[name])
        ) + "\n"
    assert leftovers(metrics) == []
    snapshot = {name: (metrics / name).read_bytes() for name in METRICS}
    assert write_missing(metrics) == []
    assert {name: (metrics / name).read_bytes() for name in METRICS} == snapshot


def test_write_missing_creates_the_folder(tmp_path: Path, conn: sqlite3.Connection) -> None:
    metrics = tmp_path / "new" / "metrics"
    assert sorted(write_missing(metrics)) == sorted(METRICS)
    assert {name: tuple(csv_rows(metrics / name)[0]) for name in METRICS} == {
        name: view_columns(conn, view) for name, view in METRICS.items()
    }


def test_write_missing_where_a_file_stands_for_the_folder_raises(tmp_path: Path) -> None:
    blocked = tmp_path / "metrics"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(ExportError, match="cannot write metrics to"):
        write_missing(blocked)


def waiting_for_flock(path: Path) -> bool:
    """Whether some process waits for an flock on `path` (Linux's /proc/locks marks waiters `->`)."""
    inode = path.stat().st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields and fields[-3].split(":")[-1] == str(inode):
            return True
    return False


def held_elsewhere(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_exclusive_lets_one_holder_in_at_a_time(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    steps: list[str] = []
    first_in, first_may_leave, second_in = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with exclusive(metrics):
            steps.append("first in")
            first_in.set()
            first_may_leave.wait(10)
            steps.append("first out")

    def second() -> None:
        with exclusive(metrics):
            steps.append("second in")
            second_in.set()

    threads = [threading.Thread(target=first, daemon=True), threading.Thread(target=second, daemon=True)]
    threads[0].start()
    assert first_in.wait(10)
    lock = metrics / LOCK_NAME
    assert held_elsewhere(lock)
    threads[1].start()
    wait_for(lambda: waiting_for_flock(lock), timeout=10)
    assert not second_in.is_set(), "the second holder waits in the kernel"
    first_may_leave.set()
    for thread in threads:
        thread.join(timeout=10)
    assert steps == ["first in", "first out", "second in"]
    assert not held_elsewhere(lock), "both released it"


def test_exclusive_where_a_file_stands_for_the_folder_raises(tmp_path: Path) -> None:
    blocked = tmp_path / "metrics"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(ExportError, match="cannot write metrics to"), exclusive(blocked):
        pass
