"""In-memory aggregation of events into per-batch rollup deltas.

Pure state: no SQLite, no wall clock. `Aggregator.add_lines` folds raw
lines into the current `Batch`; `take_batch` hands the deltas over for one
transaction and starts the next batch. The fast-liker windows live across
batches, since a window does not stop at a commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from blueskypipe import langs, words
from blueskypipe.events import LIKE, POST, Event, Post, Rejected, parse_line
from blueskypipe.windows import SPAN_MICROS, LikeWindows, Peak, WindowSnapshot

OnReject = Callable[[str, bytes], None]

_EMPTY_POST = Post()


@dataclass
class Batch:
    """Counter deltas of a run of lines, written in one transaction.

    The rollup fields are named after the tables they feed. The last batch
    of a run also carries the fast-liker windows, so that the next run
    resumes them.
    """

    # minute -> user -> likes. Nested rather than keyed by (minute, user):
    # a like then costs one lookup in a dict that stays bound for the
    # whole second, and no key object is built.
    likes_by_user_minute: dict[str, dict[str, int]] = field(default_factory=dict)
    fast_likers: dict[str, Peak] = field(default_factory=dict)
    word_counts: Counter[str] = field(default_factory=Counter)
    word_forms: Counter[tuple[str, str]] = field(default_factory=Counter)  # (word, form)
    posts_by_lang: Counter[str] = field(default_factory=Counter)

    # ingest statistics
    lines: int = 0
    rejected: int = 0
    ignored_actions: int = 0
    engineering_posts: int = 0
    rejects: Counter[str] = field(default_factory=Counter)  # by reason
    by_collection: dict[str, int] = field(default_factory=dict)
    first_event_time: str | None = None  # as received
    last_event_time: str | None = None
    first_minute: str | None = None  # the minutes of those two events
    last_minute: str | None = None
    newest_micros: int | None = None  # the latest event time seen, for retention

    windows: WindowSnapshot | None = None

    @property
    def likes_by_minute(self) -> dict[str, int]:
        """Likes per minute, summed from likes_by_user_minute on each access
        (the store reads it once per batch)."""
        return {minute: sum(users.values()) for minute, users in self.likes_by_user_minute.items()}

    @property
    def events(self) -> int:
        return self.lines - self.rejected

    def reject(self, reason: str) -> None:
        """Count a rejected line (the caller counts it in `lines`)."""
        self.rejected += 1
        self.rejects[reason] += 1


class Aggregator:
    """Folds lines into batches; keeps the fast-liker windows across batches."""

    def __init__(self, windows: LikeWindows | None = None) -> None:
        self.windows = windows if windows is not None else LikeWindows()
        self.batch = Batch()
        # Event time of the latest event: the stream's "now" for evicting
        # windows. Not the maximum, so a clock set back keeps working.
        self._now_micros = 0
        self._evicted_at = 0

    def add_lines(self, lines: Sequence[bytes], on_reject: OnReject | None = None) -> None:
        """Fold lines in; `on_reject(reason, line)` hears of each rejected one."""
        # The hot path of the whole pipeline. Everything it touches per line
        # is bound to a local once per chunk, and a like (two events in
        # three) is handled inline rather than through further calls.
        batch = self.batch
        by_collection = batch.by_collection
        per_user_minute = batch.likes_by_user_minute
        minute_of_likes = ""
        likes_of_minute: dict[str, int] = {}
        add_to_window = self.windows.add
        add_post = self._add_post
        first = last = None
        for line in lines:
            try:
                event = parse_line(line)
            except Rejected as exc:
                batch.reject(exc.reason)
                if on_reject is not None:
                    on_reject(exc.reason, line)
                continue
            last = event
            if first is None:
                first = event
            _, minute, micros, collection, action, repo, post = event
            if action != "create":
                batch.ignored_actions += 1
                continue
            by_collection[collection] = by_collection.get(collection, 0) + 1
            if collection == LIKE:
                if minute != minute_of_likes:
                    minute_of_likes = minute
                    likes_of_minute = per_user_minute.setdefault(minute, {})
                likes_of_minute[repo] = likes_of_minute.get(repo, 0) + 1
                peak = add_to_window(repo, micros)
                if peak is not None:
                    self._note_peak(repo, peak)
            elif collection == POST:
                add_post(post)
        batch.lines += len(lines)
        if first is not None and last is not None:
            self._note_span(first, last)

    def add_rejected(self, reason: str) -> None:
        """Count a rejected line that never reached `add_lines` (e.g. one too long to read)."""
        self.batch.lines += 1
        self.batch.reject(reason)

    def _note_span(self, first: Event, last: Event) -> None:
        batch = self.batch
        if batch.first_event_time is None:
            batch.first_event_time, batch.first_minute = first.timestamp, first.minute
        batch.last_event_time, batch.last_minute = last.timestamp, last.minute
        batch.newest_micros = max(batch.newest_micros or first.micros, first.micros, last.micros)
        self._now_micros = last.micros

    def _note_peak(self, user: str, peak: Peak) -> None:
        best = self.batch.fast_likers.get(user)
        if best is None or peak.likes > best.likes:
            self.batch.fast_likers[user] = peak

    def _add_post(self, post: Post | None) -> None:
        if post is None:  # a post whose record was null
            post = _EMPTY_POST
        post_langs = langs.labels(post.langs)
        posts_by_lang = self.batch.posts_by_lang
        for lang in post_langs:  # Counter.update would be a slow Python-level loop
            posts_by_lang[lang] += 1
        text = post.text
        if not text:
            return
        found = words.meaningful_words(text, post_langs)
        if found is not None:
            batch = self.batch
            batch.engineering_posts += 1
            batch.word_counts.update(found.keys())
            batch.word_forms.update((word, form) for word, forms in found.items() for form in forms)

    def take_batch(self, final: bool = False) -> Batch:
        """Hand over the current batch and start an empty one; the `final`
        batch of a run carries a snapshot of the fast-liker windows."""
        batch, self.batch = self.batch, Batch()
        if final:
            batch.windows = self.windows.snapshot()
        # A sweep walks every held user, so do it a few times per window span
        # rather than on every batch; memory stays bounded all the same.
        if abs(self._now_micros - self._evicted_at) >= SPAN_MICROS // 2:
            self.windows.evict(self._now_micros)
            self._evicted_at = self._now_micros
        return batch
