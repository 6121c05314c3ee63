"""Model-based test: adversarial streams through the real ./handle-stream,
every CSV compared with the independent reference.

tests/model.py writes the streams (out-of-order likes, clock steps, stray
far-off lines, duplicate timestamps, long and pathological texts, garbage);
here each one is cut into one to three runs (restarts), written into the
pipe in pieces of random size (so likes fall on every chunk and batch
boundary), with a batch size of its own, and `periodic`'s four files must
equal what tests/reference.py computes from the same lines. `make test`
runs MODEL_STREAMS (4) streams of MODEL_LINES (6,000) lines; `make chaos`
runs 24 more of 30,000. MODEL_SEED shifts the seeds, to look elsewhere.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from tests import reference
from tests.helpers import ROOT, Pipeline, did, event, recorded_runs
from tests.model import FAST, STRAY_TIMES, adversarial_stream
from tests.streams import Qualifying

MODEL_STREAMS = int(os.environ.get("MODEL_STREAMS", "4"))
MODEL_LINES = int(os.environ.get("MODEL_LINES", "6000"))
MODEL_SEED = int(os.environ.get("MODEL_SEED", "0"))
BATCH_SIZES = ["1", "7", "300", "20000"]
BOM = b"\xef\xbb\xbf"
HEAVY_USER, FAST_USER = 500, FAST  # a heavy liker and the first planted fast liker (tests/model.py)


def feed(db: Path | str, lines: list[bytes], batch_size: str, rng: random.Random) -> None:
    """One run of ./handle-stream into `db`, its input written in pieces of
    random size, with a pause now and then, so that commits on the interval
    fall anywhere."""
    proc = subprocess.Popen(
        [
            str(ROOT / "handle-stream"),
            "--db",
            str(db),
            "--batch-size",
            batch_size,
            "--flush-interval",
            "0.01",
        ],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
    data = b"".join(line + b"\n" for line in lines)
    at = 0
    while at < len(data):
        size = rng.choice([1, 17, 500, 4096, 70_000])
        proc.stdin.write(data[at : at + size])
        proc.stdin.flush()
        at += size
        if rng.random() < 0.01:
            time.sleep(0.02)
    proc.stdin.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, stderr.decode()
    assert b"Traceback" not in stderr


def expected_csvs(
    runs: list[list[bytes]], words: list[Qualifying], recorded: list[tuple[str, str]]
) -> dict[str, list[list[str]]]:
    """The reference's four files; a BOM before the first line of a run is not
    part of it. `recorded`: each run's first and last event minute, as its
    row in the runs table has them (a stray line there is the stream's time)."""
    events = [e for run in runs for e in reference.valid_events([run[0].removeprefix(BOM), *run[1:]])]
    return {
        "likes-per-minutes.csv": reference.likes_per_minute(events, recorded),
        "fast-likers.csv": reference.fast_likers(events),
        "top-10-word.csv": reference.top_words(words),
        "posts-per-language.csv": reference.posts_per_language(events),
    }


def check_stream(seed: int, lines_per_stream: int, tmp_path: Path, clickhouse: bool = False) -> None:
    """One adversarial stream, cut into runs, through ./handle-stream into
    SQLite (and, with `clickhouse`, into chdb too): each store's four files
    equal the reference's."""
    lines, words = adversarial_stream(seed, lines_per_stream)
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(lines)), rng.randrange(3)))
    for cut in reversed(cuts):  # a run may begin with a stray line
        if rng.random() < 0.5:
            lines.insert(
                cut, event(rng.choice(STRAY_TIMES), repo=did(rng.choice([7, HEAVY_USER, FAST_USER])))
            )
    runs = [lines[start:end] for start, end in zip([0, *cuts], [*cuts, len(lines)], strict=True)]
    # A commit per line would take minutes on ClickHouse (an insert costs milliseconds).
    batch_size = rng.choice(BATCH_SIZES[2:] if clickhouse else BATCH_SIZES)
    pipeline = Pipeline(tmp_path)
    places: list[Path | str] = [pipeline.db, *([f"chdb://{tmp_path / 'chdb'}"] if clickhouse else [])]
    for place in places:
        for run in runs:
            feed(place, run, batch_size, rng)
    expected = expected_csvs(runs, words, recorded_runs(pipeline.db))
    for place in places:
        pipeline.periodic("--db", str(place))  # the last --db is the one that counts
        for name, rows in expected.items():
            assert pipeline.csv(name) == rows, (
                f"{name}, {place}, seed {seed}, batch size {batch_size}, {len(runs)} runs"
            )


@pytest.mark.parametrize("seed", range(MODEL_SEED, MODEL_SEED + MODEL_STREAMS))
def test_adversarial_streams_match_the_reference(seed: int, tmp_path: Path) -> None:
    check_stream(seed, MODEL_LINES, tmp_path)


@pytest.mark.chaos
@pytest.mark.parametrize("seed", range(MODEL_SEED + 1000, MODEL_SEED + 1024))
def test_long_adversarial_streams_match_the_reference(seed: int, tmp_path: Path) -> None:
    check_stream(seed, 30_000, tmp_path)


@pytest.mark.clickhouse
@pytest.mark.parametrize("seed", range(MODEL_SEED + 2000, MODEL_SEED + 2003))
def test_adversarial_streams_on_clickhouse_match_the_reference(seed: int, tmp_path: Path) -> None:
    check_stream(seed, MODEL_LINES, tmp_path, clickhouse=True)
