"""Fault injection with real processes, pipes and SQLite (make chaos).

Each test proves one promise of docs/reliability.md. The figures they measure go to
the JSON file named by CHAOS_FIGURES, if set, for the table of that page.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import resource
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from blueskypipe.export import LOCK_NAME
from tests import reference
from tests.feeds import FEED_RATE, LOSS_SECONDS, PIPE_BYTES, Lines, PacedFeed, likes_prefix
from tests.helpers import ROOT, PeakRss, Pipeline, committed, event, post, query, record, simulate_to_file
from tests.streams import stream

pytestmark = pytest.mark.chaos


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("pragma integrity_check").fetchone()[0]


def feed(proc: subprocess.Popen, data: bytes) -> threading.Thread:
    """Write `data` to the process on a thread; a kill just ends the write."""

    def write() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def finish(proc: subprocess.Popen) -> bytes:
    """Wait for the process (its stdin is fed by a thread) and return its stderr."""
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    proc.wait(timeout=120)
    return stderr


# kill -9: rounds, and the moments after start they land (tests/feeds.py feeds them).
KILL_ROUNDS = 50
KILL_AFTER = (0.3, 6.0)  # seconds; the early ones land while the word tools load


def _slim(line: bytes) -> dict:
    """The fields of a valid event that the reference reads (memory: ~1M lines)."""
    e = json.loads(line)
    record = e.get("record") or {}
    return {
        "timestamp": e["timestamp"],
        "action": e["action"],
        "path": e["path"].split("/")[0] + "/",
        "repo": e["repo"],
        "record": {"langs": record.get("langs")} if isinstance(record, dict) else None,
    }


def test_kill_9_fifty_times_with_bounded_loss_then_resume(pipeline: Pipeline) -> None:
    rng = random.Random(17)
    kill_after = [rng.uniform(*KILL_AFTER) for _ in range(KILL_ROUNDS)]
    # Enough for every round at the full rate (a round feeds at most its
    # seconds times the rate, plus a tick), and a rest for the last restart.
    count = int(sum(kill_after) * FEED_RATE) + KILL_ROUNDS * 500 + 30_000
    source = simulate_to_file(
        pipeline.tmp / "events.jsonl", count, 17, "--engineering-share", "0.2", "--fast-likers", "40"
    )
    lines = Lines(source)
    events = [_slim(line) for line in lines.data.splitlines()]
    likes_upto = likes_prefix(events)
    losses: list[tuple[float, int]] = []  # (seconds of feed, lines) lost per round
    done = 0
    for after in kill_after:
        start = done
        proc = pipeline.spawn()
        feed = PacedFeed(proc, lines, start)
        time.sleep(max(0.0, feed.started + after - time.monotonic()))
        killed_at = time.monotonic()
        proc.kill()
        proc.wait()
        feed.stop()
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        fed = feed.fed_by(killed_at)
        assert fed < len(lines) - 30_000, "the input ran short"
        done = committed(pipeline.db) if pipeline.db.exists() else start
        if pipeline.db.exists():
            assert integrity(pipeline.db) == "ok"
        # Whole batches only: the likes are exactly those of the committed prefix.
        assert query(pipeline.db, "select sum(likes) from likes_by_minute") == likes_upto[done]
        assert committed(pipeline.db, "events") == done
        assert start <= done <= fed
        # The loss is bounded: all that was fed LOSS_SECONDS before the kill
        # is committed, but for what a pipe can hold.
        owed = feed.fed_by(killed_at - LOSS_SECONDS)
        assert lines.starts[done] >= lines.starts[owed] - PIPE_BYTES, (
            f"killed {after:.2f} s after start: {fed - done:,} lines lost, "
            f"{owed - done:,} of them fed more than {LOSS_SECONDS} s before the kill"
        )
        losses.append((killed_at - feed.time_fed(done), fed - done))
    # Resume from the committed prefix and finish: every count comes out exact.
    pipeline.ingest(bytes(lines.span(done, len(lines))))
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv") == reference.likes_per_minute(events)
    assert pipeline.csv("posts-per-language.csv") == reference.posts_per_language(events)
    # Top words: equal to one uninterrupted run over the same lines.
    control = Pipeline(pipeline.tmp / "control")
    control.tmp.mkdir()
    control.ingest(lines.data)
    control.periodic()
    assert pipeline.csv("top-10-word.csv") == control.csv("top-10-word.csv")
    assert len(pipeline.csv("top-10-word.csv")) == 11
    # Windows live in memory between graceful stops, so a kill can only shrink them.
    expected = dict(reference.fast_likers(events)[1:])  # type: ignore[arg-type]
    found = pipeline.csv("fast-likers.csv")[1:]
    assert found
    for user, likes in found:
        assert int(likes) <= int(expected[user])
    worst_seconds, _ = max(losses)
    record(
        "kill_9",
        kills=KILL_ROUNDS,
        kill_after_seconds=list(KILL_AFTER),
        feed_lines_per_second=FEED_RATE,
        lines=len(lines),
        worst_loss_seconds=round(worst_seconds, 2),
        worst_loss_lines=max(n for _, n in losses),
        mean_loss_seconds=round(sum(s for s, _ in losses) / len(losses), 2),
        integrity="ok",
        final_counts="exact",
    )


def ingest_seconds(pipeline: Pipeline, source: Path) -> float:
    started = time.monotonic()
    with source.open("rb") as stdin:
        subprocess.run(
            [str(ROOT / "handle-stream"), "--db", str(pipeline.db)],
            stdin=stdin,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    return time.monotonic() - started


def test_reader_holding_a_snapshot_for_30_seconds(pipeline: Pipeline) -> None:
    source = simulate_to_file(pipeline.tmp / "events.jsonl", 600_000, 19)
    alone = ingest_seconds(pipeline, source)
    # A sqlite3 shell that opens a read transaction and sits on it for 30 s.
    shell = subprocess.Popen(
        ["sqlite3", str(pipeline.db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert shell.stdin is not None and shell.stdout is not None
    shell.stdin.write("begin; select count(*) from likes_by_minute;\n")
    shell.stdin.flush()
    shell.stdout.readline()
    pinned_at = time.monotonic()
    pinned = ingest_seconds(pipeline, source)
    wal = Path(f"{pipeline.db}-wal")
    wal_pinned = wal.stat().st_size
    time.sleep(max(0.0, 30 - (time.monotonic() - pinned_at)))
    shell.stdin.write("commit;\n.quit\n")
    shell.stdin.flush()
    shell.wait(timeout=10)

    pipeline.ingest(source.read_bytes().splitlines()[:20_000])  # later commits checkpoint and cut the WAL
    wal_after = wal.stat().st_size if wal.exists() else 0
    # Generous: the machine is shared; a writer blocked by the reader would take many times longer.
    assert pinned < alone * 1.5
    assert wal_after <= 8 << 20
    assert integrity(pipeline.db) == "ok"
    record(
        "long_reader",
        seconds_alone=round(alone, 2),
        seconds_with_reader=round(pinned, 2),
        wal_mb_while_pinned=round(wal_pinned / 1e6, 1),
        wal_mb_after=round(wal_after / 1e6, 1),
    )


def test_another_writer_holding_the_lock(pipeline: Pipeline) -> None:
    lines, _ = stream(seed=23, n=200_000)
    pipeline.ingest([])
    proc = pipeline.spawn(stderr=subprocess.PIPE)
    assert proc.stderr is not None
    assert b"reading stdin" in proc.stderr.readline()  # started up, lock-free
    blocker = sqlite3.connect(pipeline.db, isolation_level=None)
    blocker.execute("begin immediate")
    locked_at = time.monotonic()
    writer = feed(proc, b"".join(line + b"\n" for line in lines))
    # Generous: the word tools load at start-up and the machine is shared.
    # A blocked reader would fill the 64 KiB pipe and never finish, however
    # long we wait.
    writer.join(timeout=30)
    # All 75 MB went into the pipe while the lock was held: it kept reading.
    kept_reading = not writer.is_alive()
    time.sleep(max(0.0, 5 - (time.monotonic() - locked_at)))
    held_seconds = time.monotonic() - locked_at
    committed_while_locked = committed(pipeline.db)
    blocker.execute("commit")
    blocker.close()
    stderr = finish(proc)
    assert proc.returncode == 0, stderr.decode()
    assert kept_reading
    assert committed_while_locked == 0
    assert committed(pipeline.db) == len(lines)
    assert b"locked by another writer" in stderr
    record("writer_lock", held_seconds=round(held_seconds, 1), lines=len(lines), lost=0)


def test_file_size_limit_stops_cleanly(pipeline: Pipeline) -> None:
    lines, _ = stream(seed=29, n=300_000)
    pipeline.ingest([])
    # Well below what this stream needs: its database ends near 1.3 MB and
    # the WAL grows to ~4 MB between checkpoints.
    limit = 1 << 20

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = pipeline.spawn("--batch-size", "5000", stderr=subprocess.PIPE, preexec_fn=limit_file_size)
    feed(proc, b"".join(line + b"\n" for line in lines))
    stderr = finish(proc)
    assert proc.returncode == 1
    assert b"handle-stream: error: cannot write" in stderr
    assert integrity(pipeline.db) == "ok"
    done = committed(pipeline.db)
    assert 0 < done < len(lines)
    valid = reference.valid_events(lines[:done])
    assert query(pipeline.db, "select sum(likes) from likes_by_minute") == len(
        reference.creates(valid, reference.LIKE)
    )
    message = next(line for line in stderr.decode().splitlines() if "error:" in line)
    record("file_size_limit", limit_mb=limit / 1e6, committed_lines=done, integrity="ok", message=message)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real, small file system at `path` for the duration; skips the test
    when this process may not mount one."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path.mkdir(exist_ok=True)
    try:
        mount = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
        )
    except FileNotFoundError:
        pytest.skip("no mount command")
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mount.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path) -> None:
    """Write a file into `folder` until its file system has no byte left."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


def test_a_full_disk_stops_cleanly_then_resumes(pipeline: Pipeline) -> None:
    lines, _ = stream(seed=37, n=300_000)
    with tmpfs(pipeline.tmp / "disk", "3m") as disk:
        on_disk = Pipeline(disk)
        # The database ends near 1.3 MB, and the WAL grows to ~4 MB between checkpoints.
        proc = on_disk.spawn("--batch-size", "5000", stderr=subprocess.PIPE)
        feed(proc, b"".join(line + b"\n" for line in lines))
        stderr = finish(proc).decode()
        assert proc.returncode == 1, stderr
        assert "Traceback" not in stderr
        errors = [line for line in stderr.splitlines() if ": error:" in line]
        assert len(errors) == 1, stderr
        assert errors[0].startswith("handle-stream: error: cannot write"), stderr
        assert "full" in errors[0]
        assert integrity(on_disk.db) == "ok"
        done = committed(on_disk.db)
        assert 0 < done < len(lines)
        # An exact prefix, and the summary says what was committed.
        likes = len(reference.creates(reference.valid_events(lines[:done]), reference.LIKE))
        assert query(on_disk.db, "select sum(likes) from likes_by_minute") == likes
        summary = next(line for line in stderr.splitlines() if "committed before the error" in line)
        assert f": {done:,} events (likes {likes:,}," in summary
        # Room again: a restart goes on from the committed prefix, and every count is exact.
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        on_disk.ingest(lines[done:])
        on_disk.periodic()
        valid = reference.valid_events(lines)
        assert on_disk.csv("likes-per-minutes.csv") == reference.likes_per_minute(valid)
        assert on_disk.csv("posts-per-language.csv") == reference.posts_per_language(valid)
    record("full_disk", tmpfs_mb=3, committed_lines=done, integrity="ok", message=errors[0])


def test_periodic_into_a_full_metrics_folder(pipeline: Pipeline) -> None:
    lines, _ = stream(seed=41, n=20_000)
    pipeline.ingest(lines[:10_000])
    with tmpfs(pipeline.metrics, "1m") as metrics:
        pipeline.periodic()
        before = {path.name: path.read_bytes() for path in metrics.iterdir() if path.name != LOCK_NAME}
        fill(metrics)
        pipeline.ingest(lines[10_000:])  # every file would change
        result = subprocess.run(
            [str(ROOT / "periodic"), "--db", str(pipeline.db), "--metrics-dir", str(metrics)],
            capture_output=True,
            timeout=60,
        )
        after = {
            path.name: path.read_bytes()
            for path in metrics.iterdir()
            if path.name not in ("filler", LOCK_NAME)
        }
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith(f"periodic: error: cannot write metrics to {metrics}"), stderr
    assert "No space left on device" in stderr
    # The previous files are whole and nothing half-written was left beside them.
    assert after == before
    assert len(before) == 4
    old = list(csv.reader(io.StringIO(before["likes-per-minutes.csv"].decode())))
    assert old == reference.likes_per_minute(reference.valid_events(lines[:10_000]))
    assert old != reference.likes_per_minute(reference.valid_events(lines))
    record("full_metrics_folder", tmpfs_mb=1, exit_status=1, previous_files="whole", message=stderr.strip())


# One line per kind of garbage, each with the reject reason it must get.
BAD_LINES: dict[str, tuple[bytes, str]] = {
    "invalid JSON": (b"{this is not json}", "invalid_json"),
    "truncated JSON": (event("2025-03-16T12:00:00")[:50], "invalid_json"),
    "JSON array": (b"[1, 2, 3]", "not_object"),
    "JSON string": (b'"hello"', "not_object"),
    "JSON number": (b"12345", "not_object"),
    "JSON null": (b"null", "not_object"),
    "missing timestamp": (b'{"action": "create", "path": "a.b/c", "repo": "did:plc:x"}', "bad_timestamp"),
    "timestamp is a number": (
        event("2025-03-16T12:00:00").replace(b'"2025-03-16T12:00:00"', b"17", 1),
        "bad_timestamp",
    ),
    "impossible timestamp": (event("2025-02-30T25:61:00"), "bad_timestamp"),
    "missing path": (b'{"timestamp": "2025-03-16T12:00:00", "repo": "did:plc:x"}', "bad_path"),
    "path is a list": (
        event("2025-03-16T12:00:00").replace(b'"app.bsky.feed.like/3lkiqjyvkqx2d"', b"[]"),
        "bad_path",
    ),
    "missing repo": (b'{"timestamp": "2025-03-16T12:00:00", "path": "app.bsky.feed.like/x"}', "bad_repo"),
    "repo not a DID": (event("2025-03-16T12:00:00", repo='=HYPERLINK("x")'), "bad_repo"),
    "invalid UTF-8": (event("2025-03-16T12:00:00").replace(b"create", b"cr\xff\xfeate"), "not_utf8"),
    "NUL bytes": (event("2025-03-16T12:00:00").replace(b"create", b"cre\x00ate"), "invalid_json"),
    "UTF-8 BOM": (b"\xef\xbb\xbf" + event("2025-03-16T12:00:00"), "invalid_json"),
    "blank line": (b"", "empty"),
    "whitespace line": (b"  \t ", "empty"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
    "langs not a list": (post("2025-03-16T12:00:00", "hi", "en"), "bad_langs"),  # type: ignore[arg-type]
    "langs with numbers": (post("2025-03-16T12:00:00", "hi", ["en", 7]), "bad_langs"),  # type: ignore[list-item]
    "10,000 langs": (post("2025-03-16T12:00:00", "hi", ["en"] * 10_000), "bad_langs"),
    "record is a string": (event("2025-03-16T12:00:00", record="<binary>"), "bad_record"),  # type: ignore[arg-type]
    "50 MB line": (b'{"timestamp": "' + b"9" * (50 << 20) + b'"}', "too_long"),
}


def test_bad_input_corpus(pipeline: Pipeline) -> None:
    good, word_sets = stream(seed=31, n=30_000)
    rng = random.Random(2)
    huge = BAD_LINES["50 MB line"]
    kinds = [kind for kind in BAD_LINES.values() if kind is not huge]
    mixed: list[bytes] = []
    for i, line in enumerate(good):
        mixed.append(line)
        if i % 100 == 0:
            mixed.append(kinds[(i // 100) % len(kinds)][0])
    mixed.insert(len(mixed) // 2, huge[0])
    # CRLF line ends are accepted: the same event, the same counts.
    crlf = [line + b"\r" if rng.random() < 0.01 else line for line in mixed]
    proc = pipeline.spawn(stderr=subprocess.PIPE)
    peak = PeakRss(proc.pid)
    feed(proc, b"".join(line + b"\n" for line in crlf))
    stderr = finish(proc)
    assert proc.returncode == 0, stderr.decode()
    pipeline.periodic()
    valid = reference.valid_events(good)
    assert pipeline.csv("likes-per-minutes.csv") == reference.likes_per_minute(valid)
    assert pipeline.csv("posts-per-language.csv") == reference.posts_per_language(valid)
    assert pipeline.csv("top-10-word.csv") == reference.top_words(word_sets)
    assert pipeline.csv("fast-likers.csv") == reference.fast_likers(valid)
    with sqlite3.connect(pipeline.db) as conn:
        counts = dict(conn.execute("select name, n from ingest_counts").fetchall())
    expected: dict[str, int] = {huge[1]: 1}
    for i in range(0, len(good), 100):
        reason = kinds[(i // 100) % len(kinds)][1]
        expected[reason] = expected.get(reason, 0) + 1
    assert {
        k.removeprefix("rejected:"): v for k, v in counts.items() if k.startswith("rejected:")
    } == expected
    assert counts["events"] == len(good)
    assert stderr.count(b"\n") < 40, "stderr must be rate-limited"
    peak_mb = peak.megabytes()
    assert peak_mb < 150
    record(
        "bad_input",
        kinds=len(BAD_LINES),
        bad_lines=sum(expected.values()),
        stderr_lines=stderr.count(b"\n"),
        peak_rss_mb=round(peak_mb),
    )


def test_periodic_exports_a_read_only_copy(pipeline: Pipeline) -> None:
    """A backup on a read-only mount: WAL mode wants a -shm file beside the
    database, which cannot be made there, so the copy, which no writer holds,
    is read as immutable."""
    lines, _ = stream(seed=43, n=5_000)
    pipeline.ingest(lines)
    pipeline.periodic()
    expected = {name: pipeline.csv(name) for name in ("likes-per-minutes.csv", "fast-likers.csv")}
    with tmpfs(pipeline.tmp / "backup", "50m") as backup:
        copy = backup / "bluesky.db"
        copy.write_bytes(pipeline.db.read_bytes())
        remount = subprocess.run(["mount", "-o", "remount,ro", str(backup)], capture_output=True, text=True)
        assert remount.returncode == 0, remount.stderr
        metrics = pipeline.tmp / "from-backup"
        result = subprocess.run(
            [str(ROOT / "periodic"), "--db", str(copy), "--metrics-dir", str(metrics)],
            capture_output=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode()
        assert sorted(p.name for p in backup.iterdir()) == ["bluesky.db"]  # nothing written beside it
    for name, rows in expected.items():
        assert list(csv.reader(io.StringIO((metrics / name).read_text()))) == rows
