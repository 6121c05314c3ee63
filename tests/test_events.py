"""Validation of single lines (docs/design.md#input-one-line-one-event, docs/operations.md#bad-input)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blueskypipe import aggregate
from blueskypipe.events import MAX_LINE_BYTES, Rejected, parse_line
from blueskypipe.times import timestamp_text
from tests.helpers import SAMPLE, event, folded, post

GOOD = event("2025-03-16T13:26:53.076175")


def reason(line: bytes) -> str:
    with pytest.raises(Rejected) as info:
        parse_line(line)
    return info.value.reason


def replaced(field: str, value: str) -> bytes:
    return GOOD.replace(field.encode(), value.encode(), 1)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"", "empty"),
        (b"   \r", "empty"),
        (b"{not json", "invalid_json"),
        (GOOD[:-10], "invalid_json"),
        (b"[1, 2]", "not_object"),
        (b'"a string"', "not_object"),
        (b"42", "not_object"),
        (b"null", "not_object"),
        (b"\xef\xbb\xbf" + GOOD, "invalid_json"),
        (GOOD.replace(b"did:plc", b"did:plc\xff"), "not_utf8"),
        (b'{"path": "app.bsky.feed.like/x", "repo": "did:plc:abc"}', "bad_timestamp"),
        (replaced('"2025-03-16T13:26:53.076175"', "1742131613"), "bad_timestamp"),
        (replaced("2025-03-16T13:26:53.076175", "yesterday"), "bad_timestamp"),
        (replaced("2025-03-16T13:26:53.076175", "2025-02-30T13:26:53"), "bad_timestamp"),
        (replaced("2025-03-16T13:26:53.076175", "2025-03-16T25:26:53"), "bad_timestamp"),
        (replaced('"app.bsky.feed.like/3lkiqjyvkqx2d"', "null"), "bad_path"),
        (replaced("app.bsky.feed.like/3lkiqjyvkqx2d", "app.bsky.feed.like"), "bad_path"),
        (replaced("app.bsky.feed.like/3lkiqjyvkqx2d", "=cmd()/x"), "bad_path"),
        (replaced('"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"', "12"), "bad_repo"),
        (replaced("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "alice.bsky.social"), "bad_repo"),
        (replaced("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "=HYPERLINK(1)"), "bad_repo"),
        (replaced("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "did:evil:x"), "bad_repo"),
        (event("2025-03-16T13:26:53", record="<binary>"), "bad_record"),  # type: ignore[arg-type]
        (post("2025-03-16T13:26:53", "hi", langs="en"), "bad_langs"),  # type: ignore[arg-type]
        (post("2025-03-16T13:26:53", "hi", langs=["en", 3]), "bad_langs"),  # type: ignore[list-item]
        (post("2025-03-16T13:26:53", "hi", langs=["en"] * 10_000), "bad_langs"),
        (b"[" * 5000 + b"]" * 5000, "invalid_json"),
        (b'{"a": "' + b"x" * MAX_LINE_BYTES + b'"}', "too_long"),
    ],
)
def test_rejects(line: bytes, expected: str) -> None:
    assert reason(line) == expected


def test_post_with_non_string_text_is_rejected() -> None:
    line = event("2025-03-16T13:26:53", "app.bsky.feed.post", record={"text": 5})
    assert reason(line) == "bad_record"


@pytest.mark.parametrize(
    ("timestamp", "minute"),
    [
        ("2025-03-16T13:26:53.076175", "2025-03-16 13:26"),
        ("2025-03-16T13:26:53", "2025-03-16 13:26"),
        ("2025-03-16T13:59:59.999999", "2025-03-16 13:59"),
        ("2025-03-16 00:00:00", "2025-03-16 00:00"),
        # An offset is ignored, not converted: the minute is the text's own.
        ("2025-03-16T13:26:53+05:00", "2025-03-16 13:26"),
        ("20250316T132653", "2025-03-16 13:26"),
        ("0999-01-02T03:04:05", "0999-01-02 03:04"),
    ],
)
def test_minute_is_the_timestamps_own(timestamp: str, minute: str) -> None:
    assert parse_line(event(timestamp)).minute == minute


def test_micros_round_trip_both_forms() -> None:
    with_fraction = parse_line(event("2025-03-16T13:26:53.000001"))
    whole = parse_line(event("2025-03-16T13:26:53"))
    assert with_fraction.micros - whole.micros == 1
    assert timestamp_text(whole.micros) == "2025-03-16T13:26:53.000000"


def test_unknown_fields_and_null_record_are_fine() -> None:
    line = GOOD[:-1] + b', "extra": {"deep": [1, 2]}}'
    assert parse_line(line).repo == "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
    assert parse_line(event("2025-03-16T13:26:53", "app.bsky.feed.post", record=None)).post is None


def test_crlf_line_end_is_accepted() -> None:
    assert parse_line(GOOD + b"\r").minute == "2025-03-16 13:26"


def test_every_sample_line_is_valid() -> None:
    lines = SAMPLE.read_bytes().splitlines()
    assert len(lines) == 423
    events = [parse_line(line) for line in lines]
    assert {e.action for e in events} == {"create"}


MUTATIONS = st.sampled_from(
    [b'"', b"{", b"}", b"[", b"]", b",", b":", b"null", b"1", b"\\", b"\xff", b"\x00", b"e", b"did:web:x"]
)
BASES = [
    GOOD,
    post("2025-03-16T13:26:54", "engineering at scale", ["en", "pt-BR"]),
    event("2025-03-16T13:26:55", "app.bsky.graph.follow", record={"subject": "did:plc:x"}),
    *SAMPLE.read_bytes().splitlines()[:20],
]


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(BASES), st.lists(st.tuples(st.integers(0, 600), MUTATIONS), max_size=3))
def test_the_fast_path_agrees_with_parse_line(base: bytes, edits: list[tuple[int, bytes]]) -> None:
    line = base
    for offset, piece in edits:
        at = offset % (len(line) + 1)
        line = line[:at] + piece + line[at:]
    assert folded(line, after=base) == folded(line, after=None)


HEAD = b'{"timestamp": "2025-03-16T13:26:53", '
LIKE_AT = HEAD + b'"path": "app.bsky.feed.like/x", '
POST_AT = HEAD + b'"path": "app.bsky.feed.post/x", '


@pytest.mark.parametrize(
    "line",
    [
        # Odd fields in a like's record are not checked.
        LIKE_AT + b'"repo": "did:plc:abc", "record": {"text": 5, "langs": "x"}}',
        LIKE_AT + b'"repo": 5, "repo": "did:plc:a"}',
        LIKE_AT + b'"repo": "did:web:example.com"}',
        POST_AT + b'"repo": "did:plc:a", "record": {"langs": ["en", 5]}}',
        POST_AT + b'"repo": "did:plc:a", "record": []}',
        POST_AT + b'"repo": "did:plc:' + b"a" * 2001 + b'"}',
    ],
)
def test_lines_the_fast_path_leaves_to_parse_line(line: bytes) -> None:
    assert folded(line, after=GOOD) == folded(line, after=None)


def test_the_fast_path_takes_the_common_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Otherwise the agreement tests above would compare parse_line with itself.
    calls: list[bytes] = []

    def spy(line: bytes, *rest: object) -> object:
        calls.append(line)
        return parse_line(line, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(aggregate, "parse_line", spy)
    same_second = event("2025-03-16T13:26:53.500000")
    assert folded(same_second, after=GOOD).by_collection == {"app.bsky.feed.like": 1}
    assert calls == [GOOD]  # the line that set the second; not the next one
    calls.clear()
    assert folded(same_second, after=None).by_collection == {"app.bsky.feed.like": 1}
    assert calls == [same_second]
