"""The offline firehose prints what ./bluesky prints, deterministically."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from datetime import datetime

import pytest

from blueskypipe.simulate import Simulator, _Timestamps
from tests import reference
from tests.helpers import ROOT, SAMPLE, Pipeline


def simulate(*args: str) -> bytes:
    return subprocess.run(
        [sys.executable, "-m", "blueskypipe", "simulate", *args], capture_output=True, check=True, cwd=ROOT
    ).stdout


def shape(obj: object) -> object:
    """Keys in order and value types, recursively: the form of an event."""
    if isinstance(obj, dict):
        return [(k, shape(v)) for k, v in obj.items()]
    return type(obj).__name__


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return simulate("--count", "20000", "--seed", "1").splitlines()


def test_every_line_is_exactly_what_json_dumps_prints(lines: list[bytes]) -> None:
    for line in lines:
        assert json.dumps(json.loads(line)).encode() == line


def test_events_have_the_form_of_the_real_sample(lines: list[bytes]) -> None:
    real = {}
    for line in SAMPLE.read_bytes().splitlines():
        event = json.loads(line)
        real.setdefault(event["path"].split("/")[0], shape({k: v for k, v in event.items() if k != "record"}))
    top_keys = [k for k, _ in json.loads(SAMPLE.read_bytes().splitlines()[0]).items()]
    for line in lines:
        event = json.loads(line)
        assert list(event) == top_keys
        collection = event["path"].split("/")[0]
        assert shape({k: v for k, v in event.items() if k != "record"}) == real[collection]
        datetime.fromisoformat(event["timestamp"])


def test_the_mix_is_close_to_the_sample(lines: list[bytes]) -> None:
    kinds = [json.loads(line)["path"].split("/")[0] for line in lines]
    share = kinds.count("app.bsky.feed.like") / len(kinds)
    assert 0.60 < share < 0.66
    assert 0.08 < kinds.count("app.bsky.feed.post") / len(kinds) < 0.12


def test_posts_vary_in_language_and_content(lines: list[bytes]) -> None:
    posts = [json.loads(line)["record"] for line in lines if b'"app.bsky.feed.post/' in line]
    assert any("langs" not in p for p in posts)
    assert any(len(p.get("langs", [])) > 1 for p in posts)
    assert any(lang != lang.lower() for p in posts for lang in p.get("langs", []))
    texts = " ".join(p["text"] for p in posts)
    for piece in ("https://", "@", "#", "🚀", "engineering"):
        assert piece in texts


def test_whole_seconds_carry_no_fraction_like_isoformat() -> None:
    stamps = _Timestamps(datetime(2025, 3, 16, 23, 59, 59))
    assert stamps.format(0) == "2025-03-16T23:59:59"
    assert stamps.format(1_000_001) == "2025-03-17T00:00:00.000001"
    assert stamps.format(1_000_000) == "2025-03-17T00:00:00"


def test_same_seed_same_bytes() -> None:
    assert simulate("--count", "3000", "--seed", "5") == simulate("--count", "3000", "--seed", "5")
    assert simulate("--count", "3000", "--seed", "5") != simulate("--count", "3000", "--seed", "6")


def test_duration_bounds_event_time() -> None:
    events = [json.loads(line) for line in simulate("--duration", "2", "--rate", "500").splitlines()]
    assert 800 < len(events) < 1200
    assert events[-1]["timestamp"] < "2025-03-16T13:00:02"


def test_planted_fast_likers_come_out_with_their_counts(pipeline: Pipeline) -> None:
    # The last burst ends by 81 s of event time: 45,000 events at 500 a second.
    data = simulate("--count", "45000", "--rate", "500", "--seed", "4", "--fast-likers", "4")
    pipeline.ingest(data)
    pipeline.periodic()
    planted = {b.user: b.likes for b in Simulator(seed=4, fast_likers=4).bursts}
    found = {user: int(n) for user, n in pipeline.csv("fast-likers.csv")[1:]}
    assert found == planted
    expected = reference.fast_likers(reference.valid_events(data.splitlines()))
    assert pipeline.csv("fast-likers.csv") == expected


def test_engineering_posts_declare_as_many_languages_as_the_network() -> None:
    lines = simulate("--count", "20000", "--seed", "3", "--engineering-share", "1").splitlines()
    declared = {
        tag.split("-")[0].lower()
        for line in lines
        if b'"app.bsky.feed.post/' in line
        for tag in json.loads(line)["record"].get("langs", [])
    }
    assert len(declared) >= 15, declared


def test_live_timestamps_are_the_wall_clock_when_written() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "blueskypipe",
            "simulate",
            "--realtime",
            "--rate",
            "1000",
            "--duration",
            "0.8",
        ],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    lags = []
    for line in proc.stdout:
        read_at = datetime.now()
        lags.append((read_at - datetime.fromisoformat(json.loads(line)["timestamp"])).total_seconds())
    assert proc.wait(timeout=30) == 0
    assert len(lags) > 500
    # A few milliseconds here; the bound leaves room for a busy machine,
    # far below the 1.3 s by which the simulator's start-up used to lag.
    assert abs(statistics.median(lags)) < 0.05, statistics.median(lags)


def test_fast_likers_are_planted_unless_turned_off() -> None:
    planted = reference.fast_likers(
        reference.valid_events(simulate("--count", "20000", "--rate", "500").splitlines())
    )
    assert len(planted) - 1 >= 2, "one every 7 s of event time: some end within these 40 s"
    none = simulate("--count", "20000", "--rate", "500", "--fast-likers", "0").splitlines()
    assert reference.fast_likers(reference.valid_events(none)) == [["user_id", "likes"]]
