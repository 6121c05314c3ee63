"""Fault injection with real processes, pipes and SQLite (make chaos).

Each test proves one promise of SPEC §6. The figures they measure go to
the JSON file named by CHAOS_FIGURES, if set, for the README's
reliability table.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests import reference
from tests.helpers import ROOT, PeakRss, Pipeline, committed, event, post, query, simulate_to_file
from tests.streams import stream

pytestmark = pytest.mark.chaos


def record(name: str, **figures: object) -> None:
    if not os.environ.get("CHAOS_FIGURES"):
        return
    path = Path(os.environ["CHAOS_FIGURES"])
    found = json.loads(path.read_text()) if path.exists() else {}
    found[name] = figures
    path.write_text(json.dumps(found, indent=2))


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


def test_kill_9_twenty_times_then_resume(pipeline: Pipeline) -> None:
    lines, word_sets = stream(seed=17, n=500_000)
    valid = reference.valid_events(lines)
    likes_upto = [0]
    for e in valid:
        is_like = e["action"] == "create" and e["path"].startswith("app.bsky.feed.like/")
        likes_upto.append(likes_upto[-1] + is_like)
    rng = random.Random(1)
    lost_lines = []
    for _ in range(20):
        start = committed(pipeline.db) if pipeline.db.exists() else 0
        proc = pipeline.spawn("--batch-size", "5000", stderr=subprocess.PIPE)
        feed(proc, b"".join(line + b"\n" for line in lines[start:]))
        time.sleep(rng.uniform(0.8, 2.5))
        proc.kill()
        proc.wait()
        assert integrity(pipeline.db) == "ok"
        done = committed(pipeline.db)
        # Whole batches only: the like total is exactly that of the committed prefix.
        assert query(pipeline.db, "select sum(likes) from likes_by_minute") == likes_upto[done]
        assert done <= len(lines)
        lost_lines.append(done - start)
    # Resume from the committed prefix and finish: every count comes out exact.
    start = committed(pipeline.db)
    pipeline.ingest(lines[start:])
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv") == reference.likes_per_minute(valid)
    assert pipeline.csv("posts-per-language.csv") == reference.posts_per_language(valid)
    assert pipeline.csv("top-10-word.csv") == reference.top_words(word_sets)
    # Windows live in memory between graceful stops, so a kill can only shrink them.
    expected = dict(reference.fast_likers(valid)[1:])  # type: ignore[arg-type]
    for user, likes in pipeline.csv("fast-likers.csv")[1:]:
        assert int(likes) <= int(expected[user])
    record("kill_9", kills=20, integrity="ok", final_counts="exact", lines=len(lines))


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
    # Generous: the stream's many languages load their word tools once (a
    # few seconds) and the machine is shared. A blocked reader would fill
    # the 64 KiB pipe and never finish, however long we wait.
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
