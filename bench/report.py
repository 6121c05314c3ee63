"""The figures of `make bench`, as docs/performance.md shows them.

`python -m bench.report [RESULTS]`, the last step of `make bench`, reads a
results file (bench/out/results.json unless named), copies it to
docs/bench-results.json and rewrites the part of docs/performance.md
between its two marker comments from it. The page and the file it comes
from are both committed; tests/test_docs.py checks that they agree.
`python -m bench.report docs/bench-results.json` renders the page again
from the committed file.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "out" / "results.json"
COMMITTED = ROOT / "docs" / "bench-results.json"
PAGE = ROOT / "docs" / "performance.md"
BEGIN = "<!-- bench:begin -->\n"
END = "<!-- bench:end -->"
NO_BOUND = "—"

Results = dict[str, Any]
# A figure in plain words, its value as measured, and the bound the project
# holds it to (NO_BOUND for a figure that is only reported).
Row = tuple[str, str, str]


class NoMarkers(ValueError):
    """The page lacks the marker comments that enclose the generated figures."""


def rows(r: Results) -> list[Row]:
    """Every figure of a results file, in the order the page shows them."""
    return [*_ingest(r), *_memory(r), *_readers(r), *_words(r), *_steps(r), *_clickhouse(r)]


def _ingest(r: Results) -> list[Row]:
    ing, steady = r["ingest"], r["memory_and_size"]["5M"]["steady_events_per_s"]
    return [
        ("ingest, 1M events, whole run incl. start-up, events/s", f"{ing['events_per_s']:,.0f}", NO_BOUND),
        ("ingest, steady state (the 5M run's extra 4M events), events/s", f"{steady:,.0f}", NO_BOUND),
        ("bare `orjson.loads` loop, events/s", f"{ing['parse_floor_events_per_s']:,.0f}", NO_BOUND),
        (
            "bare msgspec decode loop (handle-stream's struct), events/s",
            f"{ing['msgspec_floor_events_per_s']:,.0f}",
            NO_BOUND,
        ),
        ("ingest / orjson loop, whole run", f"{ing['ratio_to_parse_floor']:.2f}", NO_BOUND),
        (
            "ingest / orjson loop, steady state",
            f"{steady / ing['parse_floor_events_per_s']:.2f}",
            NO_BOUND,
        ),
        ("ingest / msgspec loop, whole run", f"{ing['ratio_to_msgspec_floor']:.2f}", NO_BOUND),
        (
            "start-up: `./handle-stream < /dev/null`, median of 10",
            f"{r['startup']['median_s']:.2f} s",
            "≤ 0.3 s",
        ),
    ]


def _memory(r: Results) -> list[Row]:
    small, big = r["memory_and_size"]["1M"], r["memory_and_size"]["5M"]
    per = r["periodic"]
    return [
        (
            "peak RSS, 1M / 5M events",
            f"{small['peak_rss_mb']:.0f} MB / {big['peak_rss_mb']:.0f} MB",
            "≤ 120 MB",
        ),
        ("peak RSS, 5M run / 1M run", f"{big['rss_ratio_5M_to_1M']:.2f}", "≤ 1.2"),
        ("database size, 1M / 5M events", f"{small['db_mb']:.0f} MB / {big['db_mb']:.0f} MB", NO_BOUND),
        (
            "database size per million events, 1M / 5M",
            f"{small['db_bytes_per_million_events'] / 1e6:.1f} MB / "
            f"{big['db_bytes_per_million_events'] / 1e6:.1f} MB",
            NO_BOUND,
        ),
        (
            "`likes_by_user_minute` rows after 5M events, `--retention-minutes` 60 / 10",
            f"{big['likes_by_user_minute_rows']:,} / {big['likes_by_user_minute_rows_retention_10']:,}",
            NO_BOUND,
        ),
        (
            "`periodic` after 100k / 5M events, median of 5",
            f"{per['after_100k_s']:.3f} s / {per['after_5M_s']:.3f} s",
            "≤ 0.3 s",
        ),
        ("`periodic` after 5M / after 100k", f"{per['ratio_5M_to_100k']:.2f}", "≤ 1.3"),
    ]


def _readers(r: Results) -> list[Row]:
    rd, fr = r["under_readers"], r["freshness"]
    return [
        ("ingest while `periodic` and `sqlite3` read / ingest alone", f"{rd['ratio_to_alone']:.2f}", "≥ 0.9"),
        ("errors those readers saw (`database is locked` or any other)", f"{rd['locked_errors']}", "0"),
        (
            f"live {fr['rate']:,} events/s: from a line's write to its commit being visible, p50 / p99",
            f"{fr['p50_s']:.2f} s / {fr['p99_s']:.2f} s",
            "p99 ≤ 1.5 s",
        ),
        (
            "live: longest time without a commit, after the first 2 s",
            f"{fr['longest_without_commit_s']:.2f} s",
            "≤ 1.5 s",
        ),
        ("live: peak RSS", f"{fr['peak_rss_mb']:.0f} MB", "≤ 120 MB"),
        *_footprint(r),
    ]


def _footprint(r: Results) -> list[Row]:
    fp = r.get("footprint")
    if fp is None:  # a results file from before this figure
        return []
    minutes = fp["minutes"]
    return [
        (
            f"live {fp['rate']:,} events/s, line by line, for {minutes} min: share of a core",
            f"{fp['cpu_percent'][-1]:.1f} %",
            "≤ 2 %",
        ),
        (
            f"same: RSS at minute 1..{minutes}",
            " / ".join(f"{mb:.0f}" for mb in fp["rss_mb"]) + " MB",
            NO_BOUND,
        ),
        *_plateau(r),
    ]


# The minute of stream time by which the fast-liker windows are full (11
# minutes of likes, and some): RSS after it is compared with RSS then.
PLATEAU_FROM = 15


def _plateau(r: Results) -> list[Row]:
    pl = r.get("plateau")
    if pl is None:  # a results file from before this figure
        return []
    rss = pl["rss_mb"]
    if not rss:  # a stream shorter than a minute: nothing sampled
        return []
    # The simulator's rate wanders, so the stream may hold a minute's lines
    # fewer than its nominal length: show the minutes that were measured.
    shown = list(range(5, len(rss), 5)) + [len(rss)]
    rows: list[Row] = [
        (
            f"{pl['minutes']} min of stream time at {pl['rate']:,} events/s, fed at full speed: "
            "RSS after minute " + " / ".join(map(str, shown)),
            " / ".join(f"{rss[m - 1]:.0f}" for m in shown) + " MB",
            NO_BOUND,
        )
    ]
    if len(rss) >= PLATEAU_FROM + 10:  # a shorter stream shows no level past the windows' filling
        rows.append(
            (
                f"same: RSS after minute {len(rss)} / after minute {PLATEAU_FROM}",
                f"{rss[-1] / rss[PLATEAU_FROM - 1]:.2f}",
                "≤ 1.1",
            )
        )
    return rows


def _words(r: Results) -> list[Row]:
    wc = r["word_cost"]
    return [
        ("word tools: load time, in a process of their own", f"{wc['load_s']:.2f} s", NO_BOUND),
        (
            f"word path per qualifying post ({wc['posts']:.0f} posts), median, English / other",
            f"{wc['median_en_ms']:.3f} ms / {wc['median_other_ms']:.3f} ms",
            "≤ 0.2 ms",
        ),
        ("word path, slowest of six constructed texts", f"{wc['worst_constructed_ms']:.2f} ms", "≤ 5 ms"),
        ("simulator, not paced, events/s", f"{r['simulator']['events_per_s']:,.0f}", NO_BOUND),
    ]


def _steps(r: Results) -> list[Row]:
    st = r["steps"]
    return [
        ("CPU µs per line: bare msgspec decode", f"{st['decode_us']:.2f}", NO_BOUND),
        (
            "CPU µs per line: `Aggregator.add_lines` (decode, checks, every fold)",
            f"{st['add_lines_us']:.2f}",
            NO_BOUND,
        ),
        (
            "CPU µs per line: of which the fast-liker windows",
            f"{st['windows_us_per_like'] * st['like_share']:.2f}",
            NO_BOUND,
        ),
        ("CPU µs per line: `parse_line`, the exact path", f"{st['parse_line_us']:.2f}", NO_BOUND),
    ]


def _clickhouse(r: Results) -> list[Row]:
    ch = r.get("clickhouse")
    if ch is None:  # a results file from before this figure
        return []
    live = ch["live"]
    return [
        (
            "ClickHouse (chdb): ingest, 1M events, default batches / large batches, events/s",
            f"{ch['events_per_s']:,.0f} / {ch['large_batches_events_per_s']:,.0f}",
            NO_BOUND,
        ),
        (
            "ClickHouse / SQLite, same run, default batches / large batches",
            f"{ch['ratio_to_sqlite']:.2f} / {ch['large_ratio_to_sqlite']:.2f}",
            NO_BOUND,
        ),
        ("ClickHouse: peak RSS, 1M events", f"{ch['peak_rss_mb']:.0f} MB", NO_BOUND),
        (
            "ClickHouse: data per million events (active parts), with raw events / rollups only",
            f"{ch['folder_mb_per_million_events']:.1f} MB"
            f" / {ch['rollups_only_mb_per_million_events']:.1f} MB",
            NO_BOUND,
        ),
        ("ClickHouse: `periodic` after 1M events, median of 5", f"{ch['periodic_s']:.2f} s", NO_BOUND),
        (
            f"ClickHouse: live {live['rate']:,} events/s for {live['minutes']} min: share of a core / RSS",
            f"{live['cpu_percent'][-1]:.1f} % / {live['rss_mb'][-1]:.0f} MB",
            "≤ 15 %",
        ),
    ]


def table(results: Results) -> str:
    """The figures as a Markdown table, which is also what `make bench` prints."""
    lines = ["| figure | measured | bound |", "|---|---|---|"]
    lines += [f"| {figure} | {value} | {bound} |" for figure, value, bound in rows(results)]
    return "\n".join(lines) + "\n"


def where(results: Results) -> str:
    """When and on what the figures were measured, and how long `make bench` took."""
    m = results["machine"]
    return (
        f"Every row comes from one run of `make bench`, on {m['date']}: {m['cores']} cores "
        f"({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}; it took "
        f"{results['total_s'] / 60:.0f} minutes. Ingest rates, the bare loops and the word path "
        f"are medians of {results['runs']} runs.\n"
    )


def section(results: Results) -> str:
    """What the page holds between its markers."""
    return f"{where(results)}\n{table(results)}"


def rewrite(page: str, results: Results) -> str:
    """`page` with the part between its markers rendered anew from `results`.

    Raises NoMarkers when either marker is missing.
    """
    begin = page.find(BEGIN)
    end = page.find(END, begin + 1)
    if begin < 0 or end < 0:
        msg = f"no {BEGIN.strip()} ... {END} in the page: where should the figures go?"
        raise NoMarkers(msg)
    return page[: begin + len(BEGIN)] + section(results) + page[end:]


def load(path: Path) -> Results:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else RESULTS
    if not source.is_file():
        print(f"bench.report: no results at {source}: run make bench", file=sys.stderr)
        return 1
    results = load(source)
    try:
        page = rewrite(PAGE.read_text(encoding="utf-8"), results)
    except (KeyError, NoMarkers) as exc:
        print(f"bench.report: cannot render {source}: {exc}", file=sys.stderr)
        return 1
    if source.resolve() != COMMITTED.resolve():
        shutil.copyfile(source, COMMITTED)
    PAGE.write_text(page, encoding="utf-8")
    print(f"bench.report: {PAGE.relative_to(ROOT)} rewritten from {COMMITTED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
