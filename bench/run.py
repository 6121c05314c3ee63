"""make bench: every performance figure of the pipeline, measured in one run.

Inputs come from the simulator (fixed seed) and are written to files first,
so that ingest is measured from the page cache and not against the
generator. Every rate is also given as a ratio to a baseline measured in
the same run, since the machine is shared and noisy. Everything lands in
bench/out/results.json, which `python -m bench.report` (the next step of
`make bench`) turns into the figures of docs/performance.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench import report
from tests.helpers import PeakRss, simulate_to_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PYTHON = sys.executable
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SIZES = {"100k": 100_000, "1M": 1_000_000, "5M": 5_000_000}
PARSE_FLOOR = "import sys, orjson\nfor line in sys.stdin.buffer: orjson.loads(line)"
# The same struct handle-stream decodes into, with no other work per line.
MSGSPEC_FLOOR = (
    "import sys\nfrom blueskypipe.events import LINE_DECODER\n"
    "decode = LINE_DECODER.decode\nfor line in sys.stdin.buffer: decode(line)"
)


def main() -> None:
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    files = {name: generate(name, n) for name, n in SIZES.items()}
    results: dict[str, object] = {"machine": machine(), "runs": RUNS}
    results["simulator"] = simulator_rate()
    results["ingest"] = ingest_rate(files["1M"])
    results["startup"] = startup()
    results["memory_and_size"] = memory_and_size(files)
    results["periodic"] = periodic_times(files)
    results["under_readers"] = under_readers(files["1M"], results["ingest"])  # type: ignore[arg-type]
    # A fifth of the posts mention engineering, in two dozen declared languages:
    # the word path's worst case, from a fresh start.
    results["freshness"] = freshness(generate("live", 40_000, "--engineering-share", "0.2"))
    results["footprint"] = footprint()
    results["plateau"] = plateau()
    results["word_cost"] = word_cost()
    results["steps"] = steps(files["100k"])
    results["clickhouse"] = clickhouse(files["1M"])
    results["total_s"] = time.perf_counter() - started
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print_table(results)


def machine() -> dict[str, object]:
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def generate(name: str, n: int, *args: str) -> Path:
    """The simulated events of one input, kept in bench/out until the
    simulator, its options or these arguments change (older ones are deleted)."""
    args = ("--fast-likers", "20", *args)
    key = hashlib.sha1(repr((n, args)).encode())
    for source in ("simulate.py", "cli.py"):
        key.update((ROOT / "blueskypipe" / source).read_bytes())
    path = OUT / f"events-{name}-{key.hexdigest()[:8]}.jsonl"
    if not path.exists() or path.stat().st_size == 0:
        for old in OUT.glob(f"events-{name}-*.jsonl"):
            old.unlink()
        print(f"bench: generating {path.name}", file=sys.stderr)
        simulate_to_file(path, n, 1, *args)
    _warm(path)
    return path


def _warm(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(1 << 24):
            pass


def fresh_db(tag: str) -> Path:
    db = OUT / f"{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db


def timed(command: list[str], stdin: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one command reading `stdin`."""
    with stdin.open("rb") as source:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdin=source, stderr=subprocess.DEVNULL, cwd=OUT)
        peak = PeakRss(proc.pid)
        proc.wait()
        elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        msg = f"bench: {command[0]} failed"
        raise SystemExit(msg)
    return elapsed, int(peak.megabytes() * 1e6)


def handle_stream(db: Path | str, *args: str) -> list[str]:
    return [str(ROOT / "handle-stream"), "--db", str(db), *args]


def median(run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(RUNS))


def simulator_rate() -> dict[str, float]:
    n = 1_000_000
    started = time.perf_counter()
    subprocess.run(
        [PYTHON, "-m", "blueskypipe", "simulate", "--count", str(n), "--seed", "2"],
        stdout=subprocess.DEVNULL,
        check=True,
        cwd=ROOT,
    )
    return {"events_per_s": n / (time.perf_counter() - started)}


def ingest_rate(events: Path) -> dict[str, float]:
    """Runs of the three loops interleave, so a noisy neighbour hits all alike."""
    n = SIZES["1M"]
    runs: dict[str, list[float]] = {"orjson": [], "msgspec": [], "pipeline": []}
    for _ in range(RUNS):
        runs["orjson"].append(timed([PYTHON, "-c", PARSE_FLOOR], events)[0])
        runs["msgspec"].append(timed([PYTHON, "-c", MSGSPEC_FLOOR], events)[0])
        runs["pipeline"].append(timed(handle_stream(fresh_db("ingest")), events)[0])
    orjson_s, msgspec_s, pipeline = (statistics.median(runs[k]) for k in ("orjson", "msgspec", "pipeline"))
    return {
        "events_per_s": n / pipeline,
        "parse_floor_events_per_s": n / orjson_s,
        "msgspec_floor_events_per_s": n / msgspec_s,
        "ratio_to_parse_floor": orjson_s / pipeline,
        "ratio_to_msgspec_floor": msgspec_s / pipeline,
        "seconds": pipeline,
    }


def startup() -> dict[str, float]:
    """`./handle-stream < /dev/null` on a new database: median of 10."""
    times = []
    for _ in range(10):
        db = fresh_db("startup")
        started = time.perf_counter()
        subprocess.run(handle_stream(db), stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return {"median_s": statistics.median(times), "min_s": min(times)}


def memory_and_size(files: dict[str, Path]) -> dict[str, dict[str, float]]:
    found = {}
    for name in ("1M", "5M"):
        db = fresh_db(f"history-{name}")
        seconds, rss = timed(handle_stream(db), files[name])
        size = sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists())
        with sqlite3.connect(db) as conn:
            user_minutes = conn.execute("select count(*) from likes_by_user_minute").fetchone()[0]
            span = conn.execute("select min(minute), max(minute) from likes_by_minute").fetchone()
        found[name] = {
            "peak_rss_mb": rss / 1e6,
            "db_mb": size / 1e6,
            "db_bytes_per_million_events": size / (SIZES[name] / 1e6),
            "likes_by_user_minute_rows": user_minutes,
            "event_time_span": f"{span[0]} .. {span[1]}",
            "seconds": seconds,
        }
    db = fresh_db("retention-10")
    timed(handle_stream(db, "--retention-minutes", "10"), files["5M"])
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select count(*) from likes_by_user_minute").fetchone()[0]
    found["5M"]["likes_by_user_minute_rows_retention_10"] = rows
    found["5M"]["rss_ratio_5M_to_1M"] = found["5M"]["peak_rss_mb"] / found["1M"]["peak_rss_mb"]
    # The 4M events the 5M run has beyond the 1M run, per second of its extra
    # time: the rate with start-up and the one-time word-tool loads left out.
    extra_events = SIZES["5M"] - SIZES["1M"]
    found["5M"]["steady_events_per_s"] = extra_events / (found["5M"]["seconds"] - found["1M"]["seconds"])
    return found


def periodic_once(db: Path | str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(ROOT / "periodic"), "--db", str(db), "--metrics-dir", str(OUT / "metrics")],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def periodic_times(files: dict[str, Path]) -> dict[str, float]:
    small = fresh_db("history-100k")
    timed(handle_stream(small), files["100k"])
    big = OUT / "history-5M.db"
    found = {
        "after_100k_s": statistics.median(periodic_once(small) for _ in range(5)),
        "after_5M_s": statistics.median(periodic_once(big) for _ in range(5)),
    }
    found["ratio_5M_to_100k"] = found["after_5M_s"] / found["after_100k_s"]
    return found


def under_readers(events: Path, alone: dict[str, float]) -> dict[str, float]:
    db = fresh_db("readers")
    stop = threading.Event()
    errors: list[str] = []
    counts = {"periodic": 0, "sqlite3": 0}

    def run_periodic() -> None:
        while not stop.is_set():
            if db.exists():
                result = subprocess.run(
                    [str(ROOT / "periodic"), "--db", str(db), "--metrics-dir", str(OUT / "metrics-readers")],
                    capture_output=True,
                    check=False,
                )
                if result.returncode != 0 or b"locked" in result.stderr:
                    errors.append(result.stderr.decode())
                counts["periodic"] += 1
            stop.wait(0.5)

    def run_sqlite3() -> None:
        shell = shutil.which("sqlite3")
        while not stop.is_set():
            if db.exists():
                query = "select sum(likes) from likes_by_minute; select count(*) from fast_likers;"
                if shell:
                    command = [shell, "-cmd", ".timeout 5000", str(db), query]
                else:
                    command = [
                        PYTHON,
                        "-c",
                        f"import sqlite3; sqlite3.connect({str(db)!r}).executescript({query!r})",
                    ]
                result = subprocess.run(command, capture_output=True, check=False)
                if b"no such table" in result.stderr:
                    continue  # the writer has not created the schema yet: not a lock
                if result.returncode != 0 or b"locked" in result.stderr:
                    errors.append(result.stderr.decode())
                counts["sqlite3"] += 1
            stop.wait(0.1)

    readers = [threading.Thread(target=run_periodic), threading.Thread(target=run_sqlite3)]
    for reader in readers:
        reader.start()
    try:
        seconds, _ = timed(handle_stream(db), events)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    rate = SIZES["1M"] / seconds
    return {
        "events_per_s": rate,
        "ratio_to_alone": rate / alone["events_per_s"],
        "locked_errors": len(errors),
        "errors": errors[:3],
        "periodic_runs": counts["periodic"],
        "sqlite3_runs": counts["sqlite3"],
    }


def footprint(
    minutes: int = int(os.environ.get("BENCH_LIVE_MINUTES", "3")), rate: int = 1500, db: Path | str = ""
) -> dict[str, object]:
    """handle-stream fed the offline firehose live (paced to the wall clock,
    line by line, as ./bluesky writes): its share of a core and its resident
    memory, each minute, after the first 10 s of start-up."""
    db = db or fresh_db("footprint")
    simulator = subprocess.Popen(
        [PYTHON, "-m", "blueskypipe", "simulate", "--realtime", "--rate", str(rate), "--seed", "7"],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    proc = subprocess.Popen(handle_stream(db), stdin=simulator.stdout, stderr=subprocess.DEVNULL)
    assert simulator.stdout is not None
    simulator.stdout.close()
    try:
        time.sleep(10)
        cpu_then, started = _cpu_seconds(proc.pid), time.monotonic()
        cpu_percent, rss_mb = [], []
        for minute in range(1, minutes + 1):
            time.sleep(max(0.0, started + 60 * minute - time.monotonic()))
            cpu_percent.append(
                round(100 * (_cpu_seconds(proc.pid) - cpu_then) / (time.monotonic() - started), 2)
            )
            rss_mb.append(round(_rss_mb(proc.pid), 1))
    finally:
        simulator.kill()
        simulator.wait()
        proc.wait(timeout=60)
    return {"rate": rate, "minutes": minutes, "cpu_percent": cpu_percent, "rss_mb": rss_mb}


def plateau(
    minutes: int = int(os.environ.get("BENCH_STREAM_MINUTES", "30")), rate: int = 1500
) -> dict[str, object]:
    """handle-stream's RSS after each minute of stream time, over a stream of
    the live rate fed as fast as it is read: where the live footprint shows a
    few minutes, this shows where the memory levels off."""
    db = fresh_db("plateau")
    simulator = subprocess.Popen(
        [PYTHON, "-m", "blueskypipe", "simulate", "--rate", str(rate), "--duration", str(60 * minutes)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    proc = subprocess.Popen(handle_stream(db), stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert simulator.stdout is not None and proc.stdin is not None
    rss_mb = []
    for n, line in enumerate(simulator.stdout, 1):
        proc.stdin.write(line)
        if n % (60 * rate) == 0:
            proc.stdin.flush()
            time.sleep(0.3)  # let it fold what it was given
            rss_mb.append(round(_rss_mb(proc.pid), 1))
    proc.stdin.close()
    simulator.wait()
    proc.wait(timeout=60)
    return {"rate": rate, "minutes": minutes, "rss_mb": rss_mb}


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def freshness(events: Path, seconds: float = 20.0, rate: int = 1500) -> dict[str, float]:
    """From a fresh start, lines written at the live rate: the wall time from a
    line entering the pipe to its commit being visible, the longest time the
    committed lines stood still while lines arrived, and peak RSS."""
    db = fresh_db("freshness")
    lines = events.read_bytes().splitlines(keepends=True)[: int(seconds * rate)]
    proc = subprocess.Popen(handle_stream(db), stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = PeakRss(proc.pid)
    assert proc.stdin is not None
    sent_at: list[float] = []
    latencies: list[float] = []
    changes: list[float] = []
    done = threading.Event()

    def poll() -> None:
        conn = sqlite3.connect(db, timeout=5)
        seen = 0
        while not done.is_set() or seen < len(sent_at):
            try:
                row = conn.execute("select n from ingest_counts where name = 'lines'").fetchone()
            except sqlite3.OperationalError:  # the schema is not created yet
                row = None
            now = time.perf_counter()
            visible = row[0] if row else 0
            if visible > seen:
                changes.append(now)
            while seen < min(visible, len(sent_at)):
                latencies.append(now - sent_at[seen])
                seen += 1
            time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    started = time.perf_counter()
    for i in range(0, len(lines), 15):
        while time.perf_counter() < started + i / rate:
            time.sleep(0.001)
        chunk = lines[i : i + 15]
        proc.stdin.write(b"".join(chunk))
        proc.stdin.flush()
        sent_at.extend([time.perf_counter()] * len(chunk))
    finished = time.perf_counter()
    proc.stdin.close()
    done.set()
    poller.join()
    proc.wait()
    latencies.sort()
    # Stretches without a commit while lines arrived, after the first 2 s.
    marks = [started + 2.0, *(t for t in changes if started + 2.0 < t < finished), finished]
    return {
        "rate": rate,
        "lines": len(latencies),
        "p50_s": latencies[len(latencies) // 2],
        "p99_s": latencies[int(len(latencies) * 0.99)],
        "max_s": latencies[-1],
        "longest_without_commit_s": max(b - a for a, b in zip(marks, marks[1:], strict=False)),
        "peak_rss_mb": peak.megabytes(),
    }


STEPS = """
import gc, json, sys, time
from blueskypipe import words
from blueskypipe.aggregate import Aggregator
from blueskypipe.events import LIKE, LINE_DECODER, TimestampParser, parse_line
from blueskypipe.windows import LikeWindows
words.tools()
gc.freeze()
gc.set_threshold(100_000, 50, 100)  # as handle-stream runs
lines = open(sys.argv[1], "rb").read().splitlines()
events = [parse_line(line) for line in lines]
likes = [(e.repo, e.micros) for e in events if e.collection == LIKE]
users, times = [u for u, _ in likes], [t for _, t in likes]
decode = LINE_DECODER.decode

def decode_loop():
    for line in lines:
        decode(line)

def parse_loop():
    timestamps = TimestampParser()  # as an aggregator keeps it
    for line in lines:
        parse_line(line, timestamps)

def fold():
    aggregator = Aggregator()
    for i in range(0, len(lines), 5000):
        aggregator.add_lines(lines[i : i + 5000])
        if i % 20_000 == 0:
            aggregator.take_batch()

def windows():
    w = LikeWindows()
    for i in range(0, len(users), 3000):
        w.add_likes(users[i : i + 3000], times[i : i + 3000])
        w.rotate()

def per_line(run, n=len(lines)):
    best = []
    for _ in range(5):
        started = time.process_time()
        run()
        best.append(time.process_time() - started)
    return min(best) / n * 1e6

print(json.dumps({
    "lines": len(lines),
    "decode_us": per_line(decode_loop),
    "parse_line_us": per_line(parse_loop),
    "add_lines_us": per_line(fold),
    "windows_us_per_like": per_line(windows, len(users)),
    "like_share": len(users) / len(lines),
}))
"""


def steps(events: Path) -> dict[str, float]:
    """Where the time goes, in-process, CPU time (the best of 5) per line:
    the bare decode, parse_line (the exact path), the whole fold of
    Aggregator.add_lines, and the fast-liker windows alone."""
    out = subprocess.run([PYTHON, "-c", STEPS, str(events)], capture_output=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def word_cost() -> dict[str, float]:
    """Time of the word path per qualifying post, in a process of its own:
    loading the tools, then each post of the hand-written corpus once (its
    words new to the caches, which the real sample's posts warmed), then
    the slowest texts we could construct, each once. The path is the
    aggregator's: words (with the language of the text), the folded text,
    and the word chart's memory deciding which count."""
    script = """
import gc, json, random, statistics, string, time
from blueskypipe import langs, words
from blueskypipe.voices import Voices
from tests.engineering_posts import POSTS, langs_of
from tests.helpers import SAMPLE
gc.freeze()
gc.set_threshold(100_000, 50, 100)  # as handle-stream runs: no collector pass mid-text
started = time.perf_counter()
words.tools()
load = time.perf_counter() - started
records = [json.loads(line)["record"] for line in SAMPLE.read_bytes().splitlines()
           if b"app.bsky.feed.post/" in line]
voices = Voices()
def word_path(n, text, labels):
    found = words.meaningful_words(text, labels)
    if found is not None:
        voices.admit(f"did:plc:{n}", n * 1_000_000, words.fold_text(text), found)
for n, r in enumerate(records):
    if r and r.get("text"):
        word_path(n, r["text"] + " engineering", langs.labels(r.get("langs")))
times = {"en": [], "other": []}
for n, (tags, text, expected) in enumerate(POSTS, start=len(records)):
    if expected is not None:
        began = time.perf_counter()
        word_path(n, text, langs.labels(langs_of(tags) or None))
        times["en" if tags in ("en", "") else "other"].append(time.perf_counter() - began)
rng = random.Random(7)
unknown = " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randrange(3, 9))) for _ in range(800))
worst = []
for n, text in enumerate(["a." * 8000, "a.-" * 5000, ".a" * 8000, "#a." * 5000, unknown, "x" * 1_000_000]):
    began = time.perf_counter()
    word_path(n, "engineering " + text, ["en", "de"])
    worst.append(time.perf_counter() - began)
print(json.dumps({"load_s": load, "posts": len(times["en"]) + len(times["other"]),
                  "median_en_ms": statistics.median(times["en"]) * 1e3,
                  "median_other_ms": statistics.median(times["other"]) * 1e3,
                  "max_ms": max(times["en"] + times["other"]) * 1e3,
                  "worst_constructed_ms": max(worst) * 1e3}))
"""
    runs = [
        json.loads(subprocess.run([PYTHON, "-c", script], capture_output=True, check=True, cwd=ROOT).stdout)
        for _ in range(RUNS)
    ]
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def clickhouse(events: Path) -> dict[str, object]:
    """The ClickHouse path, embedded (chdb): the 1M stream with the default
    batches (a commit a second) and with large ones, each run beside one of
    SQLite's so that the ratio holds on a noisy machine; the folder's size
    with the raw events and without; periodic on it; and its share of a
    core at the live rate. The first command installs the extra if needed."""
    subprocess.run(handle_stream(f"chdb://{fresh_folder('ch-warm')}"), stdin=subprocess.DEVNULL, check=True)
    large = ("--batch-size", "200000", "--flush-interval", "10")
    runs: dict[str, list[float]] = {"sqlite": [], "chdb": [], "chdb_large": [], "rss_mb": []}
    for _ in range(RUNS):
        runs["sqlite"].append(timed(handle_stream(fresh_db("ch-yardstick")), events)[0])
        seconds, rss = timed(handle_stream(f"chdb://{fresh_folder('ch-1M')}"), events)
        runs["chdb"].append(seconds)
        runs["rss_mb"].append(rss / 1e6)
        big = handle_stream(f"chdb://{fresh_folder('ch-large')}", *large)
        runs["chdb_large"].append(timed(big, events)[0])
    sqlite_s, chdb_s, large_s, rss_mb = (statistics.median(v) for v in runs.values())
    rollups = fresh_folder("ch-rollups")
    timed(handle_stream(f"chdb://{rollups}", "--keep-events-days", "0"), events)
    n = SIZES["1M"]
    return {
        "events_per_s": n / chdb_s,
        "large_batches_events_per_s": n / large_s,
        "sqlite_events_per_s": n / sqlite_s,
        "ratio_to_sqlite": sqlite_s / chdb_s,
        "large_ratio_to_sqlite": sqlite_s / large_s,
        "peak_rss_mb": rss_mb,
        "folder_mb_per_million_events": _data_bytes(OUT / "ch-1M") / 1e6 / (n / 1e6),
        "rollups_only_mb_per_million_events": _data_bytes(rollups) / 1e6 / (n / 1e6),
        "periodic_s": statistics.median(periodic_once(f"chdb://{OUT / 'ch-1M'}") for _ in range(5)),
        "live": footprint(rate=1500, db=f"chdb://{fresh_folder('ch-live')}"),
    }


def fresh_folder(tag: str) -> Path:
    folder = OUT / tag
    shutil.rmtree(folder, ignore_errors=True)
    return folder


# The bytes of the parts a chdb folder's tables hold: the folder itself also
# holds parts that merges replaced, until ClickHouse deletes them minutes later.
DATA_BYTES = """
import sys, clickhouse_connect
client = clickhouse_connect.get_client(dsn=f"chdb://{sys.argv[1]}")
parts = "system.parts WHERE active AND database = currentDatabase()"
print(client.query(f"SELECT sum(bytes_on_disk) FROM {parts}").result_rows[0][0])
"""


def _data_bytes(folder: Path) -> int:
    out = subprocess.run([PYTHON, "-c", DATA_BYTES, str(folder)], capture_output=True, check=True, text=True)
    return int(out.stdout)


def print_table(results: dict[str, object]) -> None:
    print(report.section(results))
    print(f"(also in {OUT / 'results.json'})")


if __name__ == "__main__":
    main()
