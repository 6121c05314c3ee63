"""The docs cannot drift from the code: README.md and docs/*.md.

- The options tables in the pages are generated from the argument parsers
  (`make docs`); a table that differs from them fails here.
- Runnable code blocks. A ```sh block whose line before is the HTML comment
  `<!-- runnable -->` is run here with bash (`-e -o pipefail`) in a new,
  empty folder holding `./handle-stream`, `./periodic` and
  `./scripts/launch`, so it starts from no database. One preceded by
  `<!-- runnable while writing -->` is run in a folder where
  `./handle-stream` is writing `bluesky.db` at that moment (a minute of
  simulated events, then a live-rate stream); it must finish,
  exit 0 and never see a lock, and the writer must go on committing. In both,
  `uv run CMD` runs CMD from the environment the tests run in, which is the
  one `uv run` uses in a checkout, and BLUESKY_* variables are unset.
- The figures of docs/performance.md are those `python -m bench.report`
  renders from docs/bench-results.json, the results file `make bench` wrote.
- Every relative link and anchor in the pages resolves, every mention of a
  docs page (`docs/metrics.md#top-words`) anywhere in the repository
  resolves, and no file mentions a document the repository does not hold.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import report
from blueskypipe.export import METRICS
from blueskypipe.store import Store
from tests import docs
from tests.helpers import ROOT, SAMPLE, committed, wait_for

# --- Generated tables and named things ------------------------------------


def test_the_options_tables_are_those_of_the_parsers() -> None:
    operations = (docs.DOCS / "operations.md").read_text(encoding="utf-8")
    assert sorted(docs.generated_tables(operations)) == sorted(docs.parsers()), "a parser has no table"
    for page in docs.pages():
        text = page.read_text(encoding="utf-8")
        assert docs.generate(text) == text, (
            f"{page.name}: the options tables differ from --help: run make docs"
        )


def test_a_changed_option_makes_the_table_differ() -> None:
    operations = (docs.DOCS / "operations.md").read_text(encoding="utf-8")
    (batch_size,) = [
        action.help
        for action in docs.parsers()["handle-stream"]._actions
        if "--batch-size" in action.option_strings and action.help
    ]
    stale = operations.replace(batch_size, "commit now and then")
    assert stale != operations
    assert docs.generate(stale) == operations


@pytest.mark.parametrize(("name", "view"), list(METRICS.items()))
def test_every_metrics_file_and_view_is_in_the_readme_and_defined(name: str, view: str) -> None:
    for page in (docs.README, docs.DOCS / "metrics.md"):
        text = page.read_text(encoding="utf-8")
        assert f"`{name}`" in text and f"`{view}`" in text, page.name


def test_the_readme_is_a_front_door() -> None:
    text = docs.README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200, "the README is the overview; details go to docs/"
    for command in (
        "make test",
        "make demo",
        "./scripts/launch simulate",
        "./handle-stream",
        "./periodic",
    ):
        assert command in text, command
    for page in sorted(docs.DOCS.glob("*.md")):
        assert f"(docs/{page.name}" in text, f"the README does not link {page.name}"


def test_the_performance_figures_are_those_of_the_results_file() -> None:
    page = report.PAGE.read_text(encoding="utf-8")
    results = json.loads(report.COMMITTED.read_text(encoding="utf-8"))
    assert report.rewrite(page, results) == page, (
        "docs/performance.md differs from docs/bench-results.json: run python -m bench.report "
        "docs/bench-results.json (or make bench for new figures)"
    )


def test_a_changed_figure_makes_the_performance_page_differ() -> None:
    page = report.PAGE.read_text(encoding="utf-8")
    results = json.loads(report.COMMITTED.read_text(encoding="utf-8"))
    results["startup"]["median_s"] += 1
    assert report.rewrite(page, results) != page
    with pytest.raises(report.NoMarkers):
        report.rewrite(page.replace(report.END, ""), results)


# --- Links -----------------------------------------------------------------


@pytest.mark.parametrize("page", docs.pages(), ids=lambda page: page.name)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    targets = [target for target in docs.links(page) if not docs.is_external(target)]
    assert targets, "a page without links: is the link pattern still right?"
    problems = [why for target in targets if (why := docs.unresolved(page, target))]
    assert problems == []


def test_the_link_check_finds_a_missing_page_and_a_missing_anchor() -> None:
    assert docs.unresolved(docs.README, "docs/metrics.md#top-words") is None
    # Written in two pieces, so that the check of every mention below skips them.
    assert docs.unresolved(docs.README, "docs/metrics.md" + "#no-such-heading") is not None
    assert docs.unresolved(docs.README, "docs/" + "no-such-page.md") is not None
    assert docs.unresolved(docs.README, "#the-metrics") is None
    assert docs.unresolved(docs.README, "#no-such-heading") is not None
    assert docs.unresolved(docs.README, "schema.sql#tables") is not None


DOCS_REFERENCE = re.compile(r"\bdocs/([\w-]+\.md)(#[\w-]+)?")


def test_every_mention_of_a_docs_page_in_the_repository_resolves() -> None:
    found, problems = 0, []
    for path in docs.repository_files():
        text = docs.text_of(path)
        for match in DOCS_REFERENCE.finditer(text or ""):
            found += 1
            if why := docs.unresolved(docs.README, match[0]):
                problems.append(f"{path.relative_to(ROOT)}: {why}")
    assert found > 10, "the code and tests should point to the docs pages"
    assert problems == []


# Built from pieces so that this file does not mention them itself.
OUTSIDE = re.compile(r"\b" + "SP" + r"EC\b|\.\./" + "shared|" + r"\bshared/" + "samples")


def test_no_file_mentions_a_document_outside_the_repository() -> None:
    files = docs.repository_files()
    assert ROOT / "README.md" in files and ROOT / "schema.sql" in files
    mentions = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate((docs.text_of(path) or "").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert mentions == []


# --- Runnable blocks -------------------------------------------------------

BLOCKS = docs.runnable_blocks()
# `uv run CMD` as in a checkout, without uv: CMD from this environment.
UV_RUN = 'uv() { if [ "$1" = run ]; then shift; "$@"; else command uv "$@"; fi; }\n'


def folder_with_launchers(folder: Path) -> Path:
    """`folder`, holding ./handle-stream, ./periodic and ./scripts/launch that
    run the ones of this checkout."""
    (folder / "scripts").mkdir()
    for name in ("handle-stream", "periodic", "scripts/launch"):
        launcher = folder / name
        launcher.write_text(f'#!/bin/sh\nexec "{ROOT / name}" "$@"\n', encoding="utf-8")
        launcher.chmod(0o755)
    return folder


def run(block: docs.Block, folder: Path) -> subprocess.CompletedProcess[str]:
    programs = {command.split()[0] for command in block.commands}
    if "sqlite3" in programs and shutil.which("sqlite3") is None:
        pytest.skip("the sqlite3 shell is not installed (.ci/run installs it)")
    env = {name: value for name, value in os.environ.items() if not name.startswith("BLUESKY_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", UV_RUN + block.script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def ran_cleanly(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "locked" not in output, output


@pytest.mark.parametrize("block", [b for b in BLOCKS if not b.while_writing], ids=lambda block: block.name)
def test_a_runnable_block_runs_on_a_fresh_database(block: docs.Block, tmp_path: Path) -> None:
    folder = folder_with_launchers(tmp_path)
    assert not (folder / "bluesky.db").exists()
    result = run(block, folder)
    ran_cleanly(result)
    assert result.stdout.strip(), "a runnable block should show something"


@pytest.fixture(scope="module")
def writing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder where ./handle-stream is writing bluesky.db: a minute of
    simulated events with two fast likers, then the stream goes on at 1,000
    events/s for as long as the tests of this module run."""
    folder = folder_with_launchers(tmp_path_factory.mktemp("writing"))
    simulate = [sys.executable, "-m", "blueskypipe", "simulate"]
    with (folder / "handle-stream.log").open("w+b") as log:
        # Commits every 0.2 s: each test waits for one after its block.
        writer = subprocess.Popen(
            [folder / "handle-stream", "--flush-interval", "0.2"],
            stdin=subprocess.PIPE,
            stderr=log,
            cwd=folder,
        )
        assert writer.stdin is not None
        subprocess.run(
            [*simulate, "--count", "100000", "--fast-likers", "2"], stdout=writer.stdin, check=True
        )
        feeder = subprocess.Popen([*simulate, "--realtime", "--rate", "1000"], stdout=writer.stdin, cwd=ROOT)
        try:
            wait_for(lambda: committed(folder / "bluesky.db") > 100_000, timeout=120)
            yield folder
        finally:
            feeder.terminate()
            feeder.wait(timeout=30)
            writer.stdin.close()
            status = writer.wait(timeout=60)
        log.seek(0)
        said = log.read().decode()
    assert status == 0, said
    # What handle-stream says when another connection holds up its commits.
    assert "retrying" not in said and "locked" not in said, said


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.while_writing], ids=lambda block: block.name)
def test_a_runnable_block_runs_while_handle_stream_writes(block: docs.Block, writing: Path) -> None:
    db = writing / "bluesky.db"
    before = committed(db)
    result = run(block, writing)
    ran_cleanly(result)
    # The writer was not held up: it commits the live stream after the block too.
    after = committed(db)
    wait_for(lambda: committed(db) > max(before, after), timeout=30)


def test_the_inspection_commands_are_run_while_writing() -> None:
    shown = {command for block in BLOCKS if block.while_writing for command in block.commands}
    for command in (
        "uv run sqlite-utils tables bluesky.db --counts --table",
        'uv run sqlite-utils bluesky.db "select * from metric_fast_likers" --table',
        "sqlite3 bluesky.db 'select * from metric_fast_likers'",
    ):
        assert command in shown, command
    assert any(command.endswith("--csv") for command in shown)
    assert [block for block in BLOCKS if not block.while_writing], "no block runs on a fresh database"


@pytest.mark.parametrize("command", ["handle-stream", "periodic"])
def test_sqlite_utils_is_for_inspection_only(command: str, tmp_path: Path) -> None:
    """It is in the dev group; the pipeline never imports it (its import was most of start-up)."""
    db = tmp_path / "b.db"
    Store(db).close()  # periodic reads only what a writer made
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "blueskypipe", command, "--db", str(db)],
        input=SAMPLE.read_bytes(),
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
        check=True,
    )
    imported = [line.split("|")[-1].strip() for line in result.stderr.decode().splitlines() if "|" in line]
    assert "blueskypipe.db" in imported, "importtime should list every module imported"
    assert not [name for name in imported if name.startswith("sqlite_utils")]


@pytest.mark.parametrize(
    ("minutes", "rows"),
    [
        (0, []),
        (3, ["RSS after minute 3"]),
        (24, ["5 / 10 / 15 / 20 / 24"]),
        (25, ["25", "25 / after minute 15"]),
    ],
)
def test_the_plateau_rows_name_the_minutes_a_stream_of_any_length_measured(
    minutes: int, rows: list[str]
) -> None:
    results = {"plateau": {"minutes": minutes, "rate": 1500, "rss_mb": [80.0 + m for m in range(minutes)]}}
    found = report._plateau(results)
    assert len(found) == len(rows)
    for (figure, _, _), part in zip(found, rows, strict=True):
        assert part in figure
