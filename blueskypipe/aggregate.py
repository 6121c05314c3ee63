"""In-memory aggregation of events into per-batch rollup deltas.

Pure state: no SQLite, no wall clock. `Aggregator.add_lines` folds raw
lines into the current `Batch`; `take_batch` hands the deltas over for one
transaction and starts the next batch. The fast-liker windows live across
batches, since a window does not stop at a commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from blueskypipe import langs, words
from blueskypipe.events import (
    COLLECTIONS,
    DECODE_ERRORS,
    LIKE,
    LINE_DECODER,
    MAX_LINE_BYTES,
    POST,
    Post,
    Rejected,
    TimestampParser,
    parse_line,
)
from blueskypipe.records import Batch, WindowSnapshot
from blueskypipe.times import minute_text, timestamp_text
from blueskypipe.voices import Voices
from blueskypipe.windows import LikeWindows, keep_best

# on_reject(reason, line, detail): detail says more where the reason cannot
# (the exception behind an internal_error).
OnReject = Callable[[str, bytes, "str | None"], None]

# The reason of a line whose folding raised an exception nobody foresaw: a
# bug, not bad input. The line is rejected on its own; the run goes on.
INTERNAL_ERROR = "internal_error"

_EMPTY_POST = Post()


class Aggregator:
    """Folds lines into batches; keeps the fast-liker windows across batches.

    Its state outlives a run: `snapshot` gives what a later run needs to go
    on exactly (the like times that can still share a window), and
    `Aggregator(resume=...)` starts from it.
    """

    def __init__(
        self, resume: WindowSnapshot | None = None, voices: Voices | None = None, keep_events: bool = False
    ) -> None:
        self.windows = LikeWindows(resume)
        self.voices = Voices() if voices is None else voices
        self.keep_events = keep_events  # batches carry their valid events (Batch.valid_events)
        self.batch = self._new_batch()
        # Lines that parse_line decided rather than the inline fast path.
        self.parsed_lines = 0
        # The stream's current second, for the fast path; parse_line keeps it.
        self._times = TimestampParser()
        # The latest event time recorded for the runs table, for telling a
        # stray line from the next event of a sparse stream.
        self._last_sane: int | None = None
        # The first and last event times seen while the stream had no time
        # yet (too few likes to tell a stray from the stream), not yet recorded.
        self._unjudged: tuple[str, str] | None = None

    def add_lines(  # noqa: PLR0912, PLR0915 - one loop, without calls, on purpose
        self, lines: Sequence[bytes], on_reject: OnReject | None = None
    ) -> None:
        """Fold lines in; `on_reject(reason, line)` hears of each rejected one."""
        # The hot path of the whole pipeline: a loop without calls for the
        # common line. It decodes in C and accepts the line only in
        # events.common_form, written out here; any other line goes through parse_line. Both
        # set the same fields, folded in one place. Everything the loop
        # touches is bound to a local once per chunk, and the likes reach
        # the windows once per chunk, in order.
        batch = self.batch
        by_collection = batch.by_collection
        decode = LINE_DECODER.decode
        times = self._times
        second, minute, base = times.second, times.minute, times.base
        known = COLLECTIONS
        like_prefix = LIKE + "/"
        # The likes of this chunk in stream order, and where each run of one
        # minute's likes starts in them.
        like_users: list[str] = []
        like_times: list[int] = []
        minute_starts: list[tuple[int, str]] = []
        like_minute = ""
        kept = batch.valid_events
        ignored = 0
        first = last = ""
        for line in lines:
            obj = None
            if len(line) <= MAX_LINE_BYTES and line.isascii():
                try:
                    obj = decode(line)
                except DECODE_ERRORS:
                    pass
            collection = ""
            if obj is not None:
                ts, repo = obj.timestamp, obj.repo
                size = len(ts)
                if (
                    ts.startswith(second)
                    and (size == 19 or (size == 26 and ts[19] == "." and ts[20:].isdigit() and ts.isascii()))
                    and repo.startswith("did:plc:")
                    and repo[8:].isalnum()
                    and repo.isascii()
                ):
                    path = obj.path
                    if path.startswith(like_prefix) and len(path) > len(like_prefix):
                        collection = LIKE
                        event_minute = minute
                        micros = base + int(ts[20:]) if size == 26 else base
                    else:
                        collection, _, rkey = path.partition("/")
                        if not rkey or collection not in known:
                            collection = ""
                    action, post = obj.action, obj.record
            # Whatever a line makes the code below raise rejects that line
            # alone; a try block costs nothing until something is raised.
            try:
                if not collection:
                    # Not in the common form: parse_line decides (as it would any line).
                    self.parsed_lines += 1
                    try:
                        ts, event_minute, micros, collection, action, repo, post = parse_line(line, times)
                    finally:
                        second, minute, base = times.second, times.minute, times.base
                if action != "create":
                    ignored += 1
                elif collection == LIKE:
                    if event_minute != like_minute:
                        like_minute = event_minute
                        minute_starts.append((len(like_users), event_minute))
                    like_users.append(repo)
                    like_times.append(micros)
                else:
                    if collection == POST:
                        self._add_post(post, repo, ts)
                    by_collection[collection] = by_collection.get(collection, 0) + 1
            except Rejected as exc:
                self._reject(line, exc.reason, None, on_reject)
                continue
            except words.WordToolsError:
                raise  # not this line's fault: the run cannot go on
            except Exception as exc:  # noqa: BLE001 - see the try
                self._reject(line, INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", on_reject)
                continue
            last = ts
            if not first:
                first = ts
            if kept is not None:
                kept.append((times.parse(ts)[1], ts, collection, repo, action, line))
        batch.lines += len(lines)
        batch.ignored_actions += ignored
        if like_users:
            self._add_likes(like_users, like_times, minute_starts)
        if last:
            self._note_span(first, last)

    def _reject(self, line: bytes, reason: str, detail: str | None, on_reject: OnReject | None) -> None:
        self.batch.reject(reason)
        if on_reject is not None:
            on_reject(reason, line, detail)

    def _add_likes(self, users: list[str], times: list[int], minute_starts: list[tuple[int, str]]) -> None:
        """Count a chunk's likes per minute and user, and feed them to the windows."""
        batch = self.batch
        per_minute = batch.likes_by_user_minute
        ends = [start for start, _ in minute_starts[1:]] + [len(users)]
        for (start, minute), end in zip(minute_starts, ends, strict=True):
            counts = per_minute.get(minute)
            if counts is None:
                counts = per_minute[minute] = Counter()
            counts.update(users[start:end])  # counted in C
        batch.by_collection[LIKE] = batch.by_collection.get(LIKE, 0) + len(users)
        fast_likers = batch.fast_likers
        windows = self.windows
        peaks, jumps = windows.add_likes(users, times)
        for user, peak in peaks.items():
            keep_best(fast_likers, user, peak)
        batch.far_off_likes += jumps

    def add_rejected(self, reason: str) -> None:
        """Count a rejected line that never reached `add_lines` (e.g. one too long to read)."""
        self.batch.lines += 1
        self.batch.reject(reason)

    def _note_span(self, first: str, last: str) -> None:
        """Record the chunk's first and last event times, for the runs table
        and the status's lag; one far from the stream's time (a stray line)
        is replaced by the stream's time, so that it cannot show as the run's
        first or last event. Until the stream has a time, the span waits."""
        if self._unjudged is not None:
            first = self._unjudged[0]
        self._unjudged = None
        if self.windows.clock.now is None:
            self._unjudged = (first, last)
        else:
            self._record_span(first, last)

    def _record_span(self, first: str, last: str) -> None:
        batch = self.batch
        first, first_minute = self._sane_time(first)
        last, last_minute = self._sane_time(last)
        if batch.first_event_time is None:
            batch.first_event_time, batch.first_minute = first, first_minute
        batch.last_event_time, batch.last_minute = last, last_minute

    def _sane_time(self, timestamp: str) -> tuple[str, str]:
        # Accepted already: parsing cannot fail (the fast path accepts only
        # what a parse accepts).
        minute, at = self._times.parse(timestamp)
        clock = self.windows.clock
        if clock.agrees(at, self._last_sane):
            self._last_sane = at
            return timestamp, minute
        now = self._last_sane = clock.now
        assert now is not None  # a clock without a time agrees with every time
        return timestamp_text(now), minute_text(now)

    def _add_post(self, post: Post | None, author: str, timestamp: str) -> None:
        """Fold a post in: first everything that may raise, then the counts,
        so that a post that fails leaves no trace."""
        if post is None:  # a post whose record was null
            post = _EMPTY_POST
        post_langs = langs.labels(post.langs)
        text = post.text or ""
        found = words.meaningful_words(text, post_langs) if text else None
        if found is not None:
            _, at = self._times.parse(timestamp)
            counted = self.voices.admit(author, at, words.fold_text(text), found)
        batch = self.batch
        posts_by_lang = batch.posts_by_lang
        for lang in post_langs:  # Counter.update would be a slow Python-level loop
            posts_by_lang[lang] += 1
        if found is not None:
            batch.engineering_posts += 1
            batch.word_counts.update(counted)
            batch.word_forms.update((word, form) for word in counted for form in found[word])

    def _new_batch(self) -> Batch:
        return Batch(valid_events=[] if self.keep_events else None)

    def snapshot(self) -> WindowSnapshot:
        """The state a later run resumes from (see `resume`)."""
        return self.windows.snapshot()

    def take_batch(self, final: bool = False) -> Batch:
        """Hand over the current batch and start an empty one; the `final`
        batch of a run carries a snapshot of the fast-liker windows."""
        if self._unjudged is not None and (final or not self.windows.clock.seen_likes):
            # The run ends before its stream told a time, or it has no likes
            # to tell one by (a stream of posts only): as received.
            self._record_span(*self._unjudged)
            self._unjudged = None
        batch, self.batch = self.batch, self._new_batch()
        if final:
            batch.windows = self.snapshot()
        batch.stream_micros = self.windows.clock.now
        batch.voices, batch.recent_post_times = self.voices.take_changes()
        batch.voices_kept_between = self.voices.forget()
        self.windows.rotate()
        return batch
