"""The command lines: options from flags and from the environment, one way in."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from blueskypipe.cli import handle_stream_options, periodic_options
from blueskypipe.options import OptionParser, number, positive
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
    assert (
        result.stderr
        == b"handle-stream: error: argument --batch-size: must be greater than 0, not -1 (see --help)\n"
    )


@pytest.mark.parametrize(
    ("parse", "text", "said"),
    [
        (number(int, zero=True), "1.5", "not a whole number: '1.5'"),
        (positive(float), "abc", "not a number: 'abc'"),
        (positive(float, at_most=15), "nan", "not a finite number: 'nan'"),
        (positive(float), "inf", "not a finite number: 'inf'"),
        (positive(int, at_most=100), "1" + "0" * 400, "must be at most 100, not 1" + "0" * 400),
        (positive(int), "0", "must be greater than 0, not 0"),
        (number(float, zero=True, at_most=1), "1.5", "must be at most 1, not 1.5"),
    ],
)
def test_a_value_parser_says_what_is_wrong(parse: Callable[[str], float], text: str, said: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"^{re.escape(said)}$"):
        parse(text)


def test_a_number_that_is_not_one_is_refused_before_anything_runs(pipeline: Pipeline) -> None:
    result = handle_stream(pipeline, {}, "--flush-interval", "nan")
    assert result.returncode == 2
    assert result.stderr.count(b"\n") == 1, result.stderr
    assert b"not a finite number: 'nan'" in result.stderr
    assert not pipeline.db.exists()


def test_an_empty_variable_counts_as_unset(pipeline: Pipeline) -> None:
    result = handle_stream(pipeline, {"BLUESKY_BATCH_SIZE": "", "BLUESKY_DB": ""})
    assert result.returncode == 0, result.stderr
    assert pipeline.db.exists(), "--db on the command line"
    periodic = subprocess.run(
        [str(ROOT / "periodic"), "--db", str(pipeline.db)],
        cwd=pipeline.tmp,
        env={**os.environ, "BLUESKY_METRICS_DIR": ""},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert periodic.returncode == 0, periodic.stderr
    assert (pipeline.tmp / "metrics" / "likes-per-minutes.csv").exists(), (
        "the default folder, not the current one"
    )


def test_a_good_value_from_the_environment_is_used_and_a_flag_wins(pipeline: Pipeline) -> None:
    assert handle_stream(pipeline, {"BLUESKY_BATCH_SIZE": "1"}).returncode == 0
    other = pipeline.tmp / "other.db"
    result = handle_stream(pipeline, {"BLUESKY_DB": str(other)})
    assert result.returncode == 0
    assert not other.exists(), "--db on the command line wins over BLUESKY_DB"


def test_the_simulator_does_not_import_the_cli() -> None:
    script = "import sys, blueskypipe.simulate; assert 'blueskypipe.cli' not in sys.modules"
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            handle_stream_options,
            [
                "out of the process list) (env BLUESKY_DB; default ./bluesky.db)",
                "minutes of likes_by_user_minute to keep (env BLUESKY_RETENTION_MINUTES; default 60)",
                "reading pauses at 50 times this (env BLUESKY_BATCH_SIZE; default 20000)",
            ],
        ),
        (
            periodic_options,
            [
                "out of the process list) (env BLUESKY_DB; default ./bluesky.db)",
                "folder of the CSV files (env BLUESKY_METRICS_DIR; default ./metrics)",
            ],
        ),
    ],
)
def test_the_help_names_each_variable_and_its_default(
    make: Callable[[], OptionParser], expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per option
    text = make().parser.format_help()
    for line in expected:
        assert line in text
