"""Parse and validate one line of `./bluesky` output (docs/design.md#input-one-line-one-event,
docs/operations.md#bad-input).

`parse_line` turns a raw line into an `Event` or raises `Rejected` with a
short, stable reason code that the stream counts under
`rejected:<reason>`.

Two paths, one answer. The fast path decodes with msgspec into a struct of
only the fields the metrics read: types are checked in C, unknown fields
are skipped without creating objects, and a post's record is decoded a
second time only for posts. Anything the fast path is not sure of (a type
error, malformed JSON, a non-ASCII line, a DID of an unusual form) goes to
the exact path, orjson and checks in Python, which decides acceptance and
the reason code. So reasons stay exactly what they were, and the fast path
only has to be right about the lines it accepts.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, NamedTuple

import msgspec
import orjson

from blueskypipe import times

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
_MAX_DID = len("did:plc:") + 2000
_NSID = re.compile(r"[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+")


class Rejected(ValueError):
    """A line that is not a usable event; `reason` is its counter name."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# gc=False: these hold only strings and lists of strings, never a cycle, so
# the cyclic GC need not track the one struct that every line creates.
class Post(msgspec.Struct, gc=False):
    """What the metrics read of a post's record."""

    text: str | None = None
    langs: Annotated[list[str], msgspec.Meta(max_length=MAX_LANGS)] | None = None


class Event(NamedTuple):
    """The fields of one valid event that the metrics use."""

    timestamp: str  # as received, naive local time
    minute: str  # 'YYYY-MM-DD HH:MM' of `timestamp`
    micros: int  # `timestamp` on the scale of times.py, for windows
    collection: str
    action: object  # only "create" counts; any JSON value is accepted
    repo: str
    post: Post | None  # the record of a post, else None


class _Line(msgspec.Struct, gc=False):
    timestamp: str
    path: str
    repo: str
    action: Any = None
    # Decoded as a Post for every collection: an object is required, and the
    # fields of a like or a follow are skipped without creating anything.
    record: Post | None = None


# Public for the benchmark, which times a bare loop of this decoder.
LINE_DECODER = msgspec.json.Decoder(_Line)
_decode_line = LINE_DECODER.decode
_MAYBE_WRONG = (msgspec.MsgspecError, RecursionError, Rejected)


def parse_line(line: bytes) -> Event:
    """Return the event on `line` or raise `Rejected`."""
    if len(line) > MAX_LINE_BYTES:
        raise Rejected("too_long")
    # The fast path. ./bluesky prints ASCII only (json.dumps escapes the
    # rest); other lines take the exact path, which also checks UTF-8.
    if line.isascii():
        try:
            obj = _decode_line(line)
            minute, micros = _TIMES.parse(obj.timestamp)
        except _MAYBE_WRONG:
            return _parse_exact(line)
        collection, _, rkey = obj.path.partition("/")
        repo = obj.repo
        # A did:plc is base32 (the line is ASCII, so isalnum means
        # [A-Za-z0-9]); any other DID is left to the exact path's regex.
        if (
            rkey
            and collection in _COLLECTIONS
            and repo[:8] == "did:plc:"
            and repo[8:].isalnum()
            and len(repo) <= _MAX_DID
        ):
            post = obj.record if collection == POST else None
            # A tuple subclass built positionally: this runs for every line.
            return tuple.__new__(Event, (obj.timestamp, minute, micros, collection, obj.action, repo, post))
    return _parse_exact(line)


def _parse_exact(line: bytes) -> Event:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise Rejected(_decode_error_reason(line, exc)) from None
    if type(obj) is not dict:
        raise Rejected("not_object")
    timestamp = obj.get("timestamp")
    minute, micros = _TIMES.parse(timestamp)  # raises unless a str
    path = obj.get("path")
    if type(path) is not str:
        raise Rejected("bad_path")
    collection, _, rkey = path.partition("/")
    if not rkey or not _valid_collection(collection):
        raise Rejected("bad_path")
    repo = obj.get("repo")
    if type(repo) is not str or not _DID.fullmatch(repo):
        raise Rejected("bad_repo")
    record = obj.get("record")
    if record is not None and type(record) is not dict:
        raise Rejected("bad_record")
    post = None
    if collection == POST and record is not None:
        _check_post(record)
        post = Post(text=record.get("text"), langs=record.get("langs"))
    return Event(str(timestamp), minute, micros, collection, obj.get("action"), repo, post)


def _decode_error_reason(line: bytes, exc: orjson.JSONDecodeError) -> str:
    if not line.strip():
        return "empty"
    return "not_utf8" if "not valid UTF-8" in str(exc) else "invalid_json"


class _TimestampParser:
    """Minute and microseconds of ISO-8601 timestamps, fast for a stream.

    Consecutive events share their second, so the whole-second part is
    validated and converted once (by `datetime.fromisoformat`) and only the
    fraction is parsed per event. Any other form takes the slow path.
    """

    def __init__(self) -> None:
        self._second = ""
        self._minute = ""
        self._base = 0

    def parse(self, value: object) -> tuple[str, int]:
        if type(value) is not str:
            raise Rejected("bad_timestamp")
        size = len(value)
        if value[:19] == self._second:
            if size == 26 and value[19] == "." and value[20:].isdigit() and value.isascii():
                return self._minute, self._base + int(value[20:])
            if size == 19:
                return self._minute, self._base
        return self._parse_slow(value)

    def _parse_slow(self, value: str) -> tuple[str, int]:
        if len(value) > 64:
            raise Rejected("bad_timestamp")
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise Rejected("bad_timestamp") from None
        # The minute is the timestamp's own wall-clock minute (docs/metrics.md#time); an offset,
        # if any, is ignored rather than converted.
        at = times.micros(dt)
        minute = times.minute_text(at)
        base = at - dt.microsecond
        if dt.tzinfo is None and len(value) >= 19 and value[10] == "T" and value[19:20] in ("", "."):
            self._second, self._minute, self._base = value[:19], minute, base
        return minute, base + dt.microsecond


_TIMES = _TimestampParser()


# Validated collection names. A handful in practice; capped so that a
# hostile stream of made-up names cannot grow it.
_COLLECTIONS: set[str] = set()


def _valid_collection(name: str) -> bool:
    if name in _COLLECTIONS:
        return True
    if not _NSID.fullmatch(name):
        return False
    if len(_COLLECTIONS) < 10_000:
        _COLLECTIONS.add(name)
    return True


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
