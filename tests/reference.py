"""Independent, brute-force answers for the metrics, straight from docs/metrics.md.

Slow and simple on purpose: it shares no code with blueskypipe.
"""

from __future__ import annotations

import json
import re
import sys
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import accumulate, pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.streams import Qualifying

LIKE = "app.bsky.feed.like"
POST = "app.bsky.feed.post"


_DID = re.compile(r"did:(?:plc|web):[A-Za-z0-9._:%-]{1,2000}")
_COLLECTION = re.compile(r"[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+")


def valid_events(lines: list[bytes]) -> list[dict]:
    """The events of the lines that docs/operations.md#bad-input accepts, in order."""
    return [e for e in map(event_of, lines) if e is not None]


def event_of(line: bytes) -> dict | None:
    """The JSON object on `line` if it is a valid event, else None."""
    if len(line) > 1 << 20:
        return None
    try:
        text = line.decode("utf-8")
        if _too_deep(text):
            return None
        with _deep_enough():
            # No field the metrics read is a number: a huge one is still JSON.
            obj = json.loads(text, parse_constant=_no_constants, parse_int=float)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or not _encodable(obj):
        return None
    collection, _, rkey = (
        obj.get("path", "").partition("/") if isinstance(obj.get("path"), str) else ("", "", "")
    )
    record = obj.get("record")
    ok = (
        event_time(obj.get("timestamp")) is not None
        and rkey != ""
        and _COLLECTION.fullmatch(collection) is not None
        and isinstance(obj.get("repo"), str)
        and _DID.fullmatch(obj["repo"]) is not None
        and (record is None or isinstance(record, dict))
    )
    if ok and collection == POST and record is not None:
        langs = record.get("langs")
        ok = (record.get("text") is None or isinstance(record["text"], str)) and (
            langs is None
            or (isinstance(langs, list) and len(langs) <= 16 and all(isinstance(t, str) for t in langs))
        )
    return obj if ok else None


def event_time(timestamp: object) -> datetime | None:
    """The wall-clock time a timestamp names (an offset is ignored), or None
    if it is not an ISO-8601 date and time."""
    if not isinstance(timestamp, str) or not any(sep in timestamp for sep in "Tt "):
        return None
    try:
        return datetime.fromisoformat(timestamp).replace(tzinfo=None)
    except ValueError:
        return None


# JSON nested deeper than this (arrays and objects, the outermost counted)
# is rejected, as the pipeline's parser does.
MAX_DEPTH = 1024


_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _too_deep(text: str) -> bool:
    """Whether arrays and objects nest more than MAX_DEPTH deep in the JSON `text`."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False  # cannot be: skip the scan
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depths = accumulate(1 if bracket in "[{" else -1 for bracket in brackets)
    return any(depth > MAX_DEPTH for depth in depths)


@contextmanager
def _deep_enough() -> Iterator[None]:
    """Room on the stack for json.loads to read MAX_DEPTH levels."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, 4 * MAX_DEPTH))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def _no_constants(name: str) -> None:
    raise ValueError(name)


def _encodable(value: object) -> bool:
    """No lone surrogate anywhere in the value (JSON can write one, UTF-8 cannot)."""
    pending = [value]  # a loop, not recursion: JSON may nest deeper than the stack
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


def creates(events: list[dict], collection: str) -> list[dict]:
    return [e for e in events if e["action"] == "create" and e["path"].split("/")[0] == collection]


def likes_per_minute(events: list[dict], runs: list[tuple[str, str]] | None = None) -> list[list[str]]:
    """Likes per minute, and 0 for each minute of a run without likes. A run
    is (first, last): the minutes of its first and last event, as
    'YYYY-MM-DD HH:MM:00'; by default the events are one run, from the first
    to the last in the order they came."""
    counts = Counter(_minute(event_time(e["timestamp"])) for e in creates(events, LIKE))
    if runs is None:
        runs = [run_of(events)] if events else []
    liked = set(counts)
    silent: set[str] = set()
    for first, last in runs:
        if last < first:
            continue  # its clock stepped back: which minutes it saw is not known
        # The minutes with likes in the run's span and its ends, and the
        # silences between them, unless one is longer than a day.
        seen = sorted({first, last} | {m for m in liked if first <= m <= last})
        for minute, after in pairwise(seen):
            at, until = datetime.fromisoformat(minute), datetime.fromisoformat(after)
            if until - at <= timedelta(days=1):
                while at < until:
                    silent.add(_minute(at))
                    at += timedelta(minutes=1)
        silent |= {first, last}
    for minute in silent:
        counts.setdefault(minute, 0)
    return [["time", "likes"]] + [[m, str(n)] for m, n in sorted(counts.items())]


def run_of(events: list[dict]) -> tuple[str, str]:
    """The minutes of the first and the last of `events`, in the order they came."""
    return _minute(event_time(events[0]["timestamp"])), _minute(event_time(events[-1]["timestamp"]))


def _minute(at: datetime | None) -> str:
    assert at is not None  # valid events only
    # By hand: strftime('%Y') does not zero-pad years below 1000.
    return f"{at.year:04d}-{at.month:02d}-{at.day:02d} {at.hour:02d}:{at.minute:02d}:00"


def fast_likers(events: list[dict]) -> list[list[str]]:
    times: dict[str, list[int]] = defaultdict(list)
    for e in creates(events, LIKE):
        # As microseconds: a datetime cannot hold 9999-12-31T23:59:59 + 60 s.
        times[e["repo"]].append((event_time(e["timestamp"]) - datetime.min) // timedelta(microseconds=1))
    rows = []
    for user, ts in times.items():
        ts.sort()
        # For each like t, the likes in [t, t + 60 s): a binary search, not a scan.
        best = max(bisect_left(ts, t + 60_000_000) - i for i, t in enumerate(ts))
        if best >= 50:
            rows.append((user, best))
    rows.sort(key=lambda r: (-r[1], r[0]))
    return [["user_id", "likes"]] + [[u, str(n)] for u, n in rows]


def posts_per_language(events: list[dict]) -> list[list[str]]:
    counts: Counter[str] = Counter()
    for e in creates(events, POST):
        langs = (e.get("record") or {}).get("langs") or []
        found = set()
        for entry in langs:
            # One entry may hold several tags: "en-US;en", "en,es", "fr de".
            tags = [tag for tag in re.split(r"[;,\s]", entry) if tag] or [entry]
            for tag in tags:
                if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", tag):
                    found.add(tag.split("-")[0].lower())
                else:
                    found.add("invalid")
        counts.update(found or {"unknown"})
    rows = sorted(counts.items(), key=lambda r: (-r[1], r[0]))[:25]
    return [["lang", "posts"]] + [[lang, str(n)] for lang, n in rows]


def top_words(posts: list[Qualifying]) -> list[list[str]]:
    """From each qualifying post: its author, time, text and known words.

    One voice counts once: a post whose folded text was counted less than
    a day before adds nothing; otherwise each of its words counts unless
    its author had that word counted less than a day before. A stray adds
    nothing: a post stamped more than 10 minutes before, or more than a day
    after, the middle (lower median) of the 9 qualifying posts' times before
    it (the clock); so nothing is a stray among the first 9, and what one of
    those blocks (ending more than two days past the clock) blocks nothing.
    A word's label is the form written most (ties: alphabetically first);
    rows by count, then label.
    """
    # Times as microseconds: a datetime cannot hold 9999-12-31T23:59:59 + a day.
    minute, day = 60_000_000, 86_400_000_000
    until: dict[object, int] = {}
    times: list[int] = []

    def counts_now(key: object, at: int, clock: int | None) -> bool:
        # A block ending over two days past the clock came from a stray
        # the clock could not yet judge: it blocks nothing.
        if key in until and at < until[key] and (clock is None or until[key] <= clock + 2 * day):
            return False
        until[key] = at + day
        return True

    counts: Counter[str] = Counter()
    form_counts: Counter[tuple[str, str]] = Counter()
    for p in posts:
        at = (event_time(p.timestamp) - datetime.min) // timedelta(microseconds=1)
        before, times = times[-9:], [*times[-8:], at]
        clock = sorted(before)[4] if len(before) == 9 else None
        if clock is not None and not -10 * minute <= at - clock <= day:
            continue  # a stray
        if not counts_now(("text", _folded(p.text)), at, clock):
            continue
        for word, forms in p.words.items():
            if counts_now((p.author, word), at, clock):
                counts[word] += 1
                form_counts.update((word, form) for form in forms)
    labels = {}
    for word in counts:
        written = [(-n, form) for (w, form), n in form_counts.items() if w == word]
        labels[word] = min(written)[1]
    rows = sorted(((labels[w], n) for w, n in counts.items()), key=lambda r: (-r[1], r[0]))[:10]
    return [["word", "authors"]] + [[label, str(n)] for label, n in rows]


def _folded(text: str) -> str:
    """Links out (as the test posts write them: a URL, or a domain and
    path), case and runs of whitespace folded; only what the pipeline reads."""
    text = re.sub(r"https?://\S+|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/\S*", " ", text[:3000])
    return " ".join(text.casefold().split())
