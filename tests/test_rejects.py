"""RejectLog: the first rejected lines in full, then counts by reason."""

from __future__ import annotations

import pytest

from blueskypipe.events import MAX_LINE_BYTES
from blueskypipe.rejects import SHOW_BYTES, SHOW_REJECTED, RejectLog


@pytest.fixture
def said() -> list[str]:
    return []


@pytest.fixture
def rejects(said: list[str]) -> RejectLog:
    return RejectLog(said.append)


def test_the_first_lines_are_shown_then_counted_by_reason(said: list[str], rejects: RejectLog) -> None:
    shown = [f"bad line {i}".encode() for i in range(SHOW_REJECTED)]
    for line in shown:
        rejects.note("invalid_json", line)
    assert said == [f"rejected line (invalid_json): {line!r}" for line in shown]
    for reason in ["empty", "invalid_json", "empty", "not_object", "empty"]:
        rejects.note(reason, b"not shown")
    assert len(said) == SHOW_REJECTED, "later lines wait for the report"
    rejects.report()
    assert said[SHOW_REJECTED:] == ["5 more lines rejected (empty 3, invalid_json 1, not_object 1)"]
    assert not any("not shown" in message for message in said)


def test_a_report_covers_only_what_came_since_the_last(said: list[str], rejects: RejectLog) -> None:
    for _ in range(SHOW_REJECTED):
        rejects.note("empty", b"")
    rejects.note("too_long", None)
    rejects.report()
    rejects.report()
    assert said[SHOW_REJECTED:] == ["1 more line rejected (too_long 1)"]
    for _ in range(1_234):
        rejects.note("invalid_json", b"{")
    rejects.report()
    assert said[SHOW_REJECTED + 1 :] == ["1,234 more lines rejected (invalid_json 1,234)"]


def test_a_report_after_nothing_says_nothing(said: list[str], rejects: RejectLog) -> None:
    rejects.report()
    assert said == []
    rejects.note("empty", b"")
    said.clear()
    rejects.report()
    assert said == [], "a shown line is not counted again"


def test_a_long_line_is_shown_truncated(said: list[str], rejects: RejectLog) -> None:
    head = b"a" * SHOW_BYTES
    rejects.note("invalid_json", head + b"TAIL")
    rejects.note("invalid_json", head)
    assert said == [
        f"rejected line (invalid_json): {head!r} ...",
        f"rejected line (invalid_json): {head!r}",
    ]


def test_a_line_not_kept_is_described(said: list[str], rejects: RejectLog) -> None:
    rejects.note("too_long", None)
    assert said == [f"rejected line (too_long): (over {MAX_LINE_BYTES:,} bytes, not kept)"]


def test_the_detail_follows_the_reason(said: list[str], rejects: RejectLog) -> None:
    rejects.note("bad_timestamp", b'{"timestamp": "yesterday"}', detail="'yesterday' is not a date")
    assert said == [
        "rejected line (bad_timestamp: 'yesterday' is not a date): b'{\"timestamp\": \"yesterday\"}'"
    ]


def test_bytes_that_are_not_text_are_shown_safely(said: list[str], rejects: RejectLog) -> None:
    hostile = b"\xff\xfe{\x00\x1b[2J\r\nrm -rf /\xe2\x80\xae"
    rejects.note("not_utf8", hostile)
    (message,) = said
    assert message.isascii() and message.isprintable(), "no control bytes reach the terminal"
    assert "\n" not in message and "\r" not in message
    assert message == f"rejected line (not_utf8): {hostile!r}"
    assert "\\xff\\xfe" in message and "\\x1b" in message and "\\x00" in message
