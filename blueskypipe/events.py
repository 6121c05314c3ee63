"""Parse and validate one line of `./bluesky` output (docs/design.md#input-one-line-one-event,
docs/operations.md#bad-input).

`parse_line` turns a raw line into an `Event` or raises `Rejected` with a
short, stable reason code that the stream counts under
`rejected:<reason>`. It can decide any line on its own: orjson, then checks
in Python.

Two paths, one answer. Most lines never reach `parse_line`:
`Aggregator.add_lines` decodes each with `LINE_DECODER`, into a struct of
only the fields the metrics read (types checked in C, unknown fields
skipped without creating objects), and accepts it on the spot when it is
in `common_form` (an ASCII line, a timestamp in the stream's current
second, a `did:plc` of letters and digits, a known collection). Anything
else (a new second, malformed JSON, a type error, an unusual DID) goes to
`parse_line`, which decides acceptance and the reason code. So the fast
path only has to be right about the lines it accepts: tests check that it
accepts exactly `common_form`, and that both paths read every kind of
line alike.
"""

from __future__ import annotations

import json
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


# The longest `did:plc` the fast path accepts.
MAX_DID = len("did:plc:") + 2000


class _Line(msgspec.Struct, gc=False):
    timestamp: str
    path: str
    repo: Annotated[str, msgspec.Meta(max_length=MAX_DID)]  # checked in C
    action: Any = None
    # Decoded as a Post for every collection: an object is required, and the
    # fields of a like or a follow are skipped without creating anything.
    record: Post | None = None


# The fast path's decoder (the benchmark also times a bare loop of it).
LINE_DECODER = msgspec.json.Decoder(_Line)
# What it raises on a line that it cannot decode into a `_Line`.
DECODE_ERRORS = (msgspec.MsgspecError, RecursionError)


def parse_line(line: bytes, timestamps: TimestampParser | None = None) -> Event:
    """Return the event on `line` or raise `Rejected`; `timestamps` caches the
    second of the stream for the fast path (a new one if not given)."""
    if len(line) > MAX_LINE_BYTES:
        raise Rejected("too_long")
    obj = _decode(line)
    if type(obj) is not dict:
        raise Rejected("not_object")
    timestamp = obj.get("timestamp")
    minute, micros = (timestamps or TimestampParser()).parse(timestamp)  # raises unless a str
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


def _decode(line: bytes) -> object:
    """The JSON value on `line`; raises Rejected if it is not JSON."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        # orjson's errors carry no code; this one is its only limit that JSON lacks.
        if "number is infinity" not in str(exc):
            raise Rejected(_decode_error_reason(line, exc)) from None
    # A number beyond a double's range is still JSON, and no field we read is
    # a number (an `action` that is one is simply not "create"), so the line is
    # read again with every number as 0; as the fast path, which skips them.
    try:
        obj = json.loads(line.decode(), parse_int=_zero, parse_float=_zero, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise Rejected("invalid_json") from None
    if _has_lone_surrogate(obj):  # which orjson.loads refuses
        raise Rejected("lone_surrogate")
    return obj


def _has_lone_surrogate(value: object) -> bool:
    # A loop, not recursion: the value may be nested as deep as JSON allows.
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is str:
            try:
                item.encode()
            except UnicodeEncodeError:
                return True
        elif type(item) is dict:
            stack.extend(item)
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return False


def _zero(_: str) -> int:
    return 0


def _not_json(name: str) -> None:
    msg = f"{name} is not JSON"
    raise ValueError(msg)


def _decode_error_reason(line: bytes, exc: orjson.JSONDecodeError) -> str:
    if not line.strip():
        return "empty"
    message = str(exc)
    if "not valid UTF-8" in message:
        return "not_utf8"
    # "\ud800" is valid JSON syntax, but a string no UTF-8 text can hold.
    return "lone_surrogate" if "surrogate" in message else "invalid_json"


class TimestampParser:
    """Minute and microseconds of ISO-8601 timestamps, fast for a stream.

    Consecutive events share their second, so the whole-second part is
    validated and converted once (by `datetime.fromisoformat`) and only the
    fraction is parsed per event. `second` ('YYYY-MM-DDTHH:MM:SS', exactly
    as `datetime.isoformat` writes it), `minute` and `base` (its
    microseconds) describe the last second parsed in that form; a timestamp
    that is `second` alone, or `second` followed by '.' and six ASCII digits,
    is then valid without another parse.
    """

    def __init__(self) -> None:
        # Longer than a second's 19 characters, so that no timestamp is in
        # it: neither in_second nor the fast path's copy of it can match.
        self.second = "\0" * 20
        self.minute = ""
        self.base = 0

    def parse(self, value: object) -> tuple[str, int]:
        if type(value) is not str:
            raise Rejected("bad_timestamp")
        if in_second(value, self.second):
            return self.minute, self.base + int(value[20:]) if len(value) == 26 else self.base
        return self._parse_slow(value)

    def _parse_slow(self, value: str) -> tuple[str, int]:
        if len(value) > 64:
            raise Rejected("bad_timestamp")
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise Rejected("bad_timestamp") from None
        if not any(separator in value for separator in "Tt "):
            raise Rejected("bad_timestamp")  # a date alone has no minute
        # The minute is the timestamp's own wall-clock minute (docs/metrics.md#time); an offset,
        # if any, is ignored rather than converted.
        at = times.micros(dt)
        minute = times.minute_text(at)
        base = at - dt.microsecond
        # Only the standard form: fromisoformat also reads "2025-03-16T132653.7",
        # whose first 19 characters are not a second.
        if dt.tzinfo is None and value[:19] == dt.replace(microsecond=0).isoformat():
            self.second, self.minute, self.base = value[:19], minute, base
        return minute, base + dt.microsecond


def in_second(timestamp: str, second: str) -> bool:
    """Whether `timestamp` is `second` ('YYYY-MM-DDTHH:MM:SS', as
    `datetime.isoformat` writes it) alone, or followed by '.' and six ASCII digits."""
    size = len(timestamp)
    return timestamp.startswith(second) and (
        size == 19
        or (size == 26 and timestamp[19] == "." and timestamp[20:].isdigit() and timestamp.isascii())
    )


def common_form(timestamp: str, repo: str, path: str, second: str) -> bool:
    """Whether a line with these fields (decoded by LINE_DECODER from ASCII)
    is in the form most lines have, which `Aggregator.add_lines` accepts
    without `parse_line`: a timestamp `in_second` of the stream's current
    `second`, a `did:plc` of ASCII letters and digits, and a path of a
    known collection and a record key. The loop writes this test out, as a
    call per line cost it an eighth of its speed; tests/test_aggregate.py
    checks that it accepts exactly these lines."""
    collection, _, rkey = path.partition("/")
    return (
        in_second(timestamp, second)
        and repo.startswith("did:plc:")
        and repo[8:].isalnum()
        and repo.isascii()
        and bool(rkey)
        and collection in COLLECTIONS
    )


# The collections the network writes; the metrics read two of them.
KNOWN_COLLECTIONS = (
    LIKE,
    POST,
    "app.bsky.feed.repost",
    "app.bsky.graph.follow",
    "app.bsky.graph.block",
    "app.bsky.graph.listitem",
    "app.bsky.actor.profile",
)
# Validated collection names, which the fast path accepts: the known ones
# from the start, others once parse_line has validated them. Capped so that
# a hostile stream of made-up names cannot grow it.
COLLECTIONS: set[str] = set(KNOWN_COLLECTIONS)


def _valid_collection(name: str) -> bool:
    if name in COLLECTIONS:
        return True
    if not _NSID.fullmatch(name):
        return False
    if len(COLLECTIONS) < 10_000:
        COLLECTIONS.add(name)
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
