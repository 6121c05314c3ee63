"""`make browse`: Datasette on a database that handle-stream is writing, run
the way the Makefile runs it (browse/serve.py), on bluesky.db and on a file
of another name."""

from __future__ import annotations

import html
import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import pytest
import yaml

from blueskypipe.export import METRICS
from tests.helpers import ROOT, Pipeline, committed
from tests.streams import stream

pytest.importorskip("datasette", reason="datasette comes with the dev dependency group")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str | urllib.request.Request) -> tuple[int, bytes]:
    """Status and body of a request; an HTTP error is an answer, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module", params=["bluesky.db", "archive.db"])
def browsed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browsed]:
    """handle-stream with its stdin open, after committing a stream into a
    database file of the name the tests are run for, and the server `make
    browse DB=...` starts on it. One of each for all the tests of a name:
    they only read."""
    pipeline = Pipeline(tmp_path_factory.mktemp("browse"))
    pipeline.db = pipeline.tmp / request.param
    lines, _ = stream(seed=5, n=20_000)
    proc = pipeline.running(lines)
    try:
        with serving(pipeline) as url:
            yield Browsed(pipeline, url)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0


class Browsed(NamedTuple):
    pipeline: Pipeline
    url: str  # the database's (Datasette names it after the file: archive.db is /archive)


@contextmanager
def serving(pipeline: Pipeline) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "browse" / "serve.py"), str(pipeline.db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(f"{base}/-/versions.json")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "datasette did not start"
            time.sleep(0.2)
        yield f"{base}/{pipeline.db.stem}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def as_text(rows: list[dict[str, object]]) -> list[list[str]]:
    return [[str(value) for value in row.values()] for row in rows]


def test_each_metric_view_and_canned_query_equals_its_csv(browsed: Browsed) -> None:
    pipeline, datasette = browsed
    pipeline.periodic()
    queries = {
        "likes-per-minutes.csv": "likes_per_minute",
        "fast-likers.csv": "fast_likers",
        "top-10-word.csv": "top_words",
        "posts-per-language.csv": "posts_per_language",
    }
    for name, view in METRICS.items():
        header_row, *csv_rows = pipeline.csv(name)
        assert csv_rows, f"{name} is empty: the stream should fill every metric"
        for path in (view, queries[name]):
            status, body = get(f"{datasette}/{path}.json?_shape=array&_size=max")
            assert status == 200, body
            rows = json.loads(body)
            assert list(rows[0]) == header_row
            assert as_text(rows) == csv_rows, f"{path} differs from {name}"


def test_no_write_is_possible_through_it(browsed: Browsed) -> None:
    pipeline, datasette = browsed
    before = committed(pipeline.db)
    for sql in ("DELETE FROM ingest_counts", "UPDATE likes_by_minute SET likes = 0", "DROP TABLE runs"):
        status, _ = get(f"{datasette}.json?" + urllib.parse.urlencode({"sql": sql}))
        assert status >= 400, sql
    request = urllib.request.Request(
        f"{datasette}/likes_by_minute/-/insert",
        data=json.dumps({"row": {"minute": "2000-01-01 00:00", "likes": 1}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    status, _ = get(request)
    assert status >= 400
    assert committed(pipeline.db) == before
    assert sqlite3.connect(pipeline.db).execute(
        "select count(*) from likes_by_minute where minute < '2001'"
    ).fetchone() == (0,)


def page(url: str) -> str:
    status, body = get(url)
    assert status == 200, body
    return body.decode()


def test_titles_column_notes_and_canned_queries_apply_whatever_the_file_is_called(browsed: Browsed) -> None:
    datasette = browsed.url
    metadata = yaml.safe_load((ROOT / "browse" / "metadata.yml").read_text(encoding="utf-8"))
    written = metadata["databases"]["bluesky"]
    index = html.unescape(page(datasette))
    for query in written["queries"].values():
        assert query["title"] in index
    table = written["tables"]["likes_by_minute"]
    shown = html.unescape(page(f"{datasette}/likes_by_minute"))
    assert table["title"] in shown
    assert table["columns"]["minute"] in shown
    # Where the data comes from, in the footer of every page.
    source = " ".join(metadata["source"].split())
    assert source in " ".join(shown.split())
    for words in ("./handle-stream", "schema.sql", "docs/metrics.md"):
        assert words in source


def test_the_front_page_lists_every_metric_and_the_tables_that_matter(browsed: Browsed) -> None:
    metadata = yaml.safe_load((ROOT / "browse" / "metadata.yml").read_text(encoding="utf-8"))
    written = metadata["databases"]["bluesky"]
    front = html.unescape(page(browsed.url.rsplit("/", 1)[0] + "/"))
    name = browsed.pipeline.db.stem
    for key, query in written["queries"].items():
        assert f'<a href="/{name}/{key}">{query["title"]}</a>: {query["description"]}' in front, key
    for key, table in written["tables"].items():
        shown = f'<a href="/{name}/{key}">{key}</a>: {table["title"]}' in front
        assert shown != table.get("hidden", False), key


def test_row_pages_show_counts_with_thousands_separators_and_rows_before_long_notes(browsed: Browsed) -> None:
    status, body = get(f"{browsed.url}/likes_by_minute.json?_shape=array&_size=max")
    assert status == 200
    biggest = max(row["likes"] for row in json.loads(body))
    assert biggest >= 1000, "the stream should put a thousand likes in some minute"
    assert f">{biggest:,}<" in page(f"{browsed.url}/likes_by_minute")
    runs = page(f"{browsed.url}/runs")
    # The rows come right after a few notes: the column notes are not the first screen.
    assert runs.count("<dt>") <= 3
    assert 'class="rows-and-columns"' in runs
