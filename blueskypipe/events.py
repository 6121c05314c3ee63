"""Parse and validate one line of `./bluesky` output (SPEC §2, §6).

`parse_line` turns a raw line into an `Event` or raises `Rejected` with a
short, stable reason code that the stream counts under
`rejected:<reason>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

LIKE = "app.bsky.feed.like"
POST = "app.bsky.feed.post"

# Longest line accepted. Real events are a few KB (a post is at most 3,000
# characters plus facets and embeds); anything near this is garbage.
MAX_LINE_BYTES = 1 << 20

# Bluesky allows at most 3 languages per post; a generous cap still stops a
# hostile line from costing thousands of regex calls.
MAX_LANGS = 16

# Only the two DID methods atproto supports; the character class also keeps
# DIDs safe to write into a CSV cell (no leading '=', '+', '-', '@').
_DID = re.compile(r"did:(?:plc|web):[A-Za-z0-9._:%-]{1,2000}")
_NSID = re.compile(r"[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+")

_MICROS_PER_DAY = 86_400_000_000


class Rejected(ValueError):
    """A line that is not a usable event; `reason` is its counter name."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Event:
    """The fields of one valid event that the metrics use."""

    timestamp: str  # as received, naive local time
    minute: str  # 'YYYY-MM-DD HH:MM' of `timestamp`
    micros: int  # `timestamp` as microseconds since 0001-01-01, for windows
    collection: str
    action: str
    repo: str
    record: dict[str, Any] | None


def parse_line(line: bytes) -> Event:
    """Return the event on `line` or raise `Rejected`."""
    if not line.strip():
        raise Rejected("empty")
    if len(line) > MAX_LINE_BYTES:
        raise Rejected("too_long")
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise Rejected("not_utf8" if "not valid UTF-8" in str(exc) else "invalid_json") from None
    if not isinstance(obj, dict):
        raise Rejected("not_object")
    timestamp, minute, micros = _parse_timestamp(obj.get("timestamp"))
    collection = _parse_collection(obj.get("path"))
    repo = obj.get("repo")
    if not isinstance(repo, str) or not _DID.fullmatch(repo):
        raise Rejected("bad_repo")
    record = obj.get("record")
    if record is not None and not isinstance(record, dict):
        raise Rejected("bad_record")
    if collection == POST and record is not None:
        _check_post(record)
    action = obj.get("action")
    return Event(
        timestamp=timestamp,
        minute=minute,
        micros=micros,
        collection=collection,
        action=action if isinstance(action, str) else "",
        repo=repo,
        record=record,
    )


def _parse_timestamp(value: object) -> tuple[str, str, int]:
    if not isinstance(value, str) or len(value) > 64:
        raise Rejected("bad_timestamp")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected("bad_timestamp") from None
    # SPEC: the minute is the timestamp's own wall-clock minute; an offset,
    # if any, is ignored rather than converted.
    if len(value) >= 16 and value[4] == "-" and value[10] in "T " and value[13] == ":":
        minute = value[:10] + " " + value[11:16]
    else:
        minute = dt.strftime("%Y-%m-%d %H:%M")
    seconds = (dt.hour * 60 + dt.minute) * 60 + dt.second
    micros = dt.toordinal() * _MICROS_PER_DAY + seconds * 1_000_000 + dt.microsecond
    return value, minute, micros


def _parse_collection(path: object) -> str:
    if not isinstance(path, str):
        raise Rejected("bad_path")
    collection, slash, rkey = path.partition("/")
    if not slash or not rkey or not _NSID.fullmatch(collection):
        raise Rejected("bad_path")
    return collection


def _check_post(record: dict[str, Any]) -> None:
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise Rejected("bad_record")
    langs = record.get("langs")
    if langs is None:
        return
    if (
        not isinstance(langs, list)
        or len(langs) > MAX_LANGS
        or not all(isinstance(tag, str) for tag in langs)
    ):
        raise Rejected("bad_langs")


def format_micros(micros: int) -> str:
    """Inverse of the `micros` field: naive ISO-8601 with microseconds."""
    days, rest = divmod(micros, _MICROS_PER_DAY)
    seconds, micro = divmod(rest, 1_000_000)
    day = datetime.fromordinal(days)
    return f"{day:%Y-%m-%d}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{micro:06d}"
