"""The README names every option, environment variable and metrics file."""

from __future__ import annotations

import pytest

from blueskypipe.cli import handle_stream_options, periodic_options, simulate_parser
from blueskypipe.export import METRICS
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def options() -> list[str]:
    found = []
    for parser in (handle_stream_options().parser, periodic_options().parser, simulate_parser()):
        for action in parser._actions:
            found += [o for o in action.option_strings if o.startswith("--") and o != "--help"]
    return found


@pytest.mark.parametrize("option", options())
def test_every_option_is_documented(option: str) -> None:
    assert f"`{option}" in README


@pytest.mark.parametrize("name", handle_stream_options().environment + periodic_options().environment)
def test_every_environment_variable_is_documented(name: str) -> None:
    assert f"`{name}`" in README, name


@pytest.mark.parametrize(("name", "view"), [(name, view) for name, (view, _) in METRICS.items()])
def test_every_metrics_file_and_view_is_documented(name: str, view: str) -> None:
    assert f"`{name}`" in README and f"`{view}`" in README


def test_readme_gives_the_test_command() -> None:
    assert "make test" in README
