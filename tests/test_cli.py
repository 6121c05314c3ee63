"""The command lines: options from flags and from the environment, one way in."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, Pipeline, event


def handle_stream(pipeline: Pipeline, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "handle-stream"), "--db", str(pipeline.db), *args],
        input=event("2025-03-16T12:00:00") + b"\n",
        capture_output=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BLUESKY_RETENTION_MINUTES", "abc"),
        ("BLUESKY_RETENTION_MINUTES", "-5"),
        ("BLUESKY_BATCH_SIZE", "0"),
        ("BLUESKY_BATCH_SIZE", "1.5"),
    ],
)
def test_a_bad_value_from_the_environment_is_a_one_line_usage_error(
    pipeline: Pipeline, name: str, value: str
) -> None:
    result = handle_stream(pipeline, {name: value})
    assert result.returncode == 2
    assert result.stderr.count(b"\n") == 1, result.stderr
    assert result.stderr.startswith(f"handle-stream: error: {name}={value!r}: ".encode())
    assert not pipeline.db.exists()


def test_a_bad_flag_is_a_usage_error_too(pipeline: Pipeline) -> None:
    result = handle_stream(pipeline, {}, "--batch-size", "-1")
    assert result.returncode == 2
    assert b"--batch-size: must be greater than 0" in result.stderr


def test_a_good_value_from_the_environment_is_used_and_a_flag_wins(pipeline: Pipeline) -> None:
    assert handle_stream(pipeline, {"BLUESKY_BATCH_SIZE": "1"}).returncode == 0
    other = pipeline.tmp / "other.db"
    result = handle_stream(pipeline, {"BLUESKY_DB": str(other)})
    assert result.returncode == 0
    assert not other.exists(), "--db on the command line wins over BLUESKY_DB"


def test_an_empty_line_is_reported_as_empty() -> None:
    result = subprocess.run(
        [str(ROOT / "handle-stream"), "--db", ":memory:"], input=b"\n", capture_output=True, check=True
    )
    assert b"rejected line (empty): b''" in result.stderr
    assert b"bytes" not in result.stderr.split(b"rejected line")[1].split(b"\n")[0]


def test_simulate_has_one_way_in() -> None:
    ok = subprocess.run(
        [sys.executable, "-W", "error", "-m", "blueskypipe", "simulate", "--count", "3"],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    assert ok.stdout.count(b"\n") == 3
    # The old spelling says where to go, without importing the module twice.
    old = subprocess.run(
        [sys.executable, "-W", "error", "-m", "blueskypipe.simulate"],
        capture_output=True,
        cwd=ROOT,
        check=False,
        timeout=30,
    )
    assert old.returncode == 1
    assert old.stderr == b"the simulator moved: python -m blueskypipe simulate [options]\n"


def test_the_simulator_does_not_import_the_cli() -> None:
    script = "import sys, blueskypipe.simulate; assert 'blueskypipe.cli' not in sys.modules"
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True)
