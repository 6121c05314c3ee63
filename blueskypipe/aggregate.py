"""In-memory aggregation of events into per-batch rollup deltas.

Pure state: no SQLite, no wall clock. `Aggregator.add_line` folds one raw
line into the current `Batch`; `take_batch` hands the deltas over for one
transaction and starts the next batch. The fast-liker windows live across
batches, since a window does not stop at a commit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from blueskypipe import langs, words
from blueskypipe.events import LIKE, POST, Event, Rejected, format_micros, parse_line
from blueskypipe.windows import LikeWindows, Peak


@dataclass
class Batch:
    """Counter deltas of a run of lines, written in one transaction."""

    lines: int = 0
    events: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    likes_by_minute: Counter[str] = field(default_factory=Counter)
    likes_by_user_minute: Counter[tuple[str, str]] = field(default_factory=Counter)
    fast_likers: dict[str, Peak] = field(default_factory=dict)
    word_posts: Counter[str] = field(default_factory=Counter)
    lang_posts: Counter[str] = field(default_factory=Counter)
    first_event_time: str | None = None
    last_event_time: str | None = None
    newest_minute: str | None = None

    @property
    def rejected(self) -> int:
        return self.lines - self.events

    def fast_liker_rows(self) -> list[tuple[str, int, str, str]]:
        """(user, likes, window start, window end) for the fast_likers upsert."""
        return [
            (user, p.likes, format_micros(p.start), format_micros(p.end))
            for user, p in self.fast_likers.items()
        ]


class Aggregator:
    """Folds lines into batches; keeps the fast-liker windows across batches."""

    def __init__(self, windows: LikeWindows | None = None) -> None:
        self.windows = windows if windows is not None else LikeWindows()
        self.batch = Batch()
        # Event time of the latest event: the stream's "now" for evicting
        # windows. Not the maximum, so a clock set back keeps working.
        self._now_micros = 0

    def add_line(self, line: bytes) -> str | None:
        """Fold one line in; return the reject reason if it was rejected."""
        try:
            event = parse_line(line)
        except Rejected as exc:
            self.add_rejected(exc.reason)
            return exc.reason
        self.batch.lines += 1
        self.add_event(event)
        return None

    def add_rejected(self, reason: str) -> None:
        """Count one rejected line under `rejected:<reason>`."""
        self.batch.lines += 1
        self.batch.counts["rejected:" + reason] += 1

    def add_event(self, event: Event) -> None:
        batch = self.batch
        batch.events += 1
        if batch.first_event_time is None:
            batch.first_event_time = event.timestamp
        batch.last_event_time = event.timestamp
        self._now_micros = event.micros
        if event.action != "create":
            batch.counts["ignored_action"] += 1
            return
        collection = event.collection
        batch.counts["collection:" + collection] += 1
        if collection == LIKE:
            self._add_like(event)
        elif collection == POST:
            self._add_post(event)

    def _add_like(self, event: Event) -> None:
        batch = self.batch
        minute = event.minute
        batch.likes_by_minute[minute] += 1
        batch.likes_by_user_minute[minute, event.repo] += 1
        if batch.newest_minute is None or minute > batch.newest_minute:
            batch.newest_minute = minute
        peak = self.windows.add(event.repo, event.micros)
        if peak is not None:
            best = batch.fast_likers.get(event.repo)
            if best is None or peak.likes > best.likes:
                batch.fast_likers[event.repo] = peak

    def _add_post(self, event: Event) -> None:
        record = event.record or {}
        post_langs = langs.labels(record.get("langs"))
        self.batch.lang_posts.update(post_langs)
        text = record.get("text")
        if not text:
            return
        found = words.meaningful_words(text, post_langs)
        if found is not None:
            self.batch.counts["engineering_posts"] += 1
            self.batch.word_posts.update(found)

    def take_batch(self) -> Batch:
        """Hand over the current batch and start an empty one."""
        batch, self.batch = self.batch, Batch()
        self.windows.evict(self._now_micros)
        return batch
