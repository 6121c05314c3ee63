"""Builders and helpers the tests (and bench/run.py) share: events in the
exact shape of ./bluesky, the real executables on a temp database, and a
peak-RSS sampler."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from blueskypipe.aggregate import Aggregator
from blueskypipe.records import Batch
from blueskypipe.voices import Voices
from blueskypipe.windows import LikeWindows

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# 423 real events captured from ./bluesky (docs/design.md#input-one-line-one-event).
SAMPLE = FIXTURES / "firehose-sample.jsonl"


def event(
    timestamp: str,
    collection: str = "app.bsky.feed.like",
    repo: str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
    record: dict | None = None,
    action: str = "create",
) -> bytes:
    """One line in the exact shape ./bluesky prints."""
    if record is None and collection == "app.bsky.feed.like":
        record = {
            "$type": collection,
            "subject": {"cid": "bafyreia", "uri": "at://did:plc:x/app.bsky.feed.post/3kabc"},
            "createdAt": timestamp + "Z",
        }
    obj = {
        "timestamp": timestamp,
        "action": action,
        "path": f"{collection}/3lkiqjyvkqx2d",
        "cid": "bafyreiehtwlksshhn5jluyzgovnbvi54",
        "prev": None,
        "py_type": "com.atproto.sync.subscribeRepos#repoOp",
        "record": record,
        "repo": repo,
    }
    return orjson.dumps(obj)


def post(timestamp: str, text: str, langs: list[str] | None = None, repo: str = "did:plc:author") -> bytes:
    record: dict = {"$type": "app.bsky.feed.post", "text": text, "createdAt": timestamp + "Z"}
    if langs is not None:
        record["langs"] = langs
    return event(timestamp, "app.bsky.feed.post", repo, record)


def did(n: int) -> str:
    return f"did:plc:{n:024d}"


def recorded_runs(db: Path) -> list[tuple[str, str]]:
    """The (first, last) event minutes each run recorded, as reference.likes_per_minute
    takes them: the runs table's own view of where a run's stream was, for a
    stream whose times jump (a stray line is recorded as the stream's time)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select first_minute, last_minute from runs where first_minute is not null")
        return [(f"{first}:00", f"{last}:00") for first, last in rows]


def query(db: Path, sql: str, *params: object) -> int:
    """One number from the database; 0 while the schema does not exist yet."""
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute(sql, params).fetchone()
    except sqlite3.OperationalError:  # not created yet, or killed before it was
        return 0
    return row[0] if row and row[0] is not None else 0


def committed(db: Path, name: str = "lines") -> int:
    """An `ingest_counts` counter as committed so far."""
    return query(db, "select n from ingest_counts where name = ?", name)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until `predicate()` holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Pipeline:
    """Runs ./handle-stream and ./periodic against one temp database."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db = tmp / "bluesky.db"
        self.metrics = tmp / "metrics"

    def ingest(
        self, lines: Iterable[bytes] | bytes, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess:
        data = lines if isinstance(lines, bytes) else b"".join(line + b"\n" for line in lines)
        result = subprocess.run(
            [str(ROOT / "handle-stream"), "--db", str(self.db), *args],
            input=data,
            capture_output=True,
            timeout=300,
            cwd=self.tmp,
        )
        if check:
            assert result.returncode == 0, result.stderr.decode()
        assert result.stdout == b"", "handle-stream must not write to stdout"
        return result

    def spawn(self, *args: str, stderr: int = subprocess.DEVNULL, **popen: object) -> subprocess.Popen:
        """Start ./handle-stream on this database with stdin as a pipe."""
        return subprocess.Popen(
            [str(ROOT / "handle-stream"), "--db", str(self.db), *args],
            stdin=subprocess.PIPE,
            stderr=stderr,
            **popen,  # type: ignore[arg-type]
        )

    def running(self, lines: list[bytes], timeout: float = 60.0) -> subprocess.Popen:
        """./handle-stream with `lines` committed and its stdin still open
        (committing every 0.1 s, so that the wait is short)."""
        proc = self.spawn("--flush-interval", "0.1")
        assert proc.stdin is not None
        proc.stdin.write(b"".join(line + b"\n" for line in lines))
        proc.stdin.flush()
        wait_for(lambda: committed(self.db) == len(lines), timeout)
        return proc

    def periodic(self, *args: str, status: int = 0) -> subprocess.CompletedProcess:
        """Run ./periodic on this database; assert that it exits with `status`."""
        result = subprocess.run(
            [str(ROOT / "periodic"), "--db", str(self.db), "--metrics-dir", str(self.metrics), *args],
            capture_output=True,
            timeout=60,
            cwd=self.tmp,
        )
        assert result.returncode == status, result.stdout.decode() + result.stderr.decode()
        return result

    def csv(self, name: str) -> list[list[str]]:
        text = (self.metrics / name).read_text(encoding="utf-8")
        return list(csv.reader(io.StringIO(text)))


class PeakRss:
    """Samples VmHWM of a running process. Unlike ru_maxrss of a child, it
    does not count the memory of the (large) process it was forked from."""

    def __init__(self, pid: int) -> None:
        self.status = Path(f"/proc/{pid}/status")
        self.peak_kb = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while True:
            try:
                text = self.status.read_text()
            except OSError:
                return  # the process is gone and reaped
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            time.sleep(0.02)

    def megabytes(self) -> float:
        """The peak so far; after the process was reaped, its final peak."""
        self._thread.join(timeout=5)
        return self.peak_kb * 1024 / 1e6


def simulate_to_file(path: Path, count: int, seed: int, *args: str) -> Path:
    """Write `count` simulated events to `path` with `python -m blueskypipe simulate`."""
    with path.open("wb") as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "blueskypipe",
                "simulate",
                "--count",
                str(count),
                "--seed",
                str(seed),
                *args,
            ],
            stdout=out,
            check=True,
            cwd=ROOT,
        )
    return path


# What a shell's foreground job gets from a terminal: these signals act. A
# test started by a shell that ignores them (a background job of a
# non-interactive shell ignores SIGINT and SIGQUIT, and exec keeps ignored
# signals ignored) would hand that down, and a Ctrl-C it plays would reach
# nothing. A small launcher puts the defaults back, then execs the command;
# unlike a preexec_fn it is safe in a process with threads.
TERMINAL_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)
_WITH_TERMINAL_SIGNALS = f"""
import os, signal, sys
for signum in {[int(s) for s in TERMINAL_SIGNALS]}:
    signal.signal(signum, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {[int(s) for s in TERMINAL_SIGNALS]})
os.execvp(sys.argv[1], sys.argv[1:])
"""


def with_terminal_signals(argv: list[str]) -> list[str]:
    """`argv` run with TERMINAL_SIGNALS at their defaults and unblocked, as a terminal starts a job."""
    return [sys.executable, "-c", _WITH_TERMINAL_SIGNALS, *argv]


def record(name: str, **figures: object) -> None:
    """Add measured figures under `name` to the JSON file named by CHAOS_FIGURES, if set
    (the table of docs/reliability.md is written from it)."""
    if not os.environ.get("CHAOS_FIGURES"):
        return
    path = Path(os.environ["CHAOS_FIGURES"])
    found = json.loads(path.read_text()) if path.exists() else {}
    found[name] = figures
    path.write_text(json.dumps(found, indent=2))


def folded(line: bytes, after: bytes | None) -> Batch:
    """The batch of `line` alone. After `after`, the aggregator's timestamp
    cache holds that line's second (and its collection is known), so a line
    of the common form takes the inline fast path of Aggregator.add_lines;
    with None, a new aggregator's empty cache sends it through parse_line."""
    aggregator = Aggregator()
    if after is not None:
        aggregator.add_lines([after])
        aggregator.take_batch(final=True)  # its event times are recorded in its own batch
        # Fresh windows, so that the stream's time is this line's alone in
        # both paths: the fold of `line`, not of the history, is compared.
        aggregator.windows = LikeWindows()
        aggregator.voices = Voices()  # nor may the history's words block this line's
    aggregator.add_lines([line])
    return aggregator.take_batch()
