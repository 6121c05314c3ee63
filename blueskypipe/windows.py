"""Exact per-user sliding windows over like times (docs/metrics.md#fast-likers).

A user's window count for a start like s is the number of their likes t
with s <= t < s + span. Each user keeps a sorted list of recent like times,
so a like that arrives out of order is placed where it belongs.

A user's result depends only on that user's own likes. What is forgotten
is decided by the stream's time (`StreamClock`: the median of the latest
likes, which no handful of stray lines can move), never by one line's
timestamp:

- Likes older than HORIZON_MICROS before the stream's time (or before the
  like being added, if that is older) are cut off as the user's next like
  arrives: no like that arrives at most LATE_MICROS out of order can share
  a window with them. A user who likes once a minute holds 12 likes (one
  more while the stream's time trails), not every like since they were
  first seen.
- Users are kept in two generations, the users touched since the last
  rotation and those of the one before. A rotation drops the older
  generation whole: its users have been silent for ROTATE_MICROS of the
  stream's time. It comes when the stream's time has moved ROTATE_MICROS
  since the last rotation, forwards or backwards (a capture read in
  reverse), counting only its steps of at most LATE_MICROS: a jump moves
  nothing, so a block of stray likes that comes and goes rotates nothing,
  and after a clock step the count goes on from the new time. Memory is
  bounded by the likes of the last two rotations, and no pass ever visits
  the users that stay.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence

from blueskypipe.records import Held, Peak, WindowSnapshot

SPAN_MICROS = 60_000_000
THRESHOLD = 50
# A like stamped up to this long before the stream's time still joins the
# windows it belongs to, exactly.
LATE_MICROS = 10 * SPAN_MICROS
# How far back a user's likes are kept: a span before the latest like late.
HORIZON_MICROS = LATE_MICROS + SPAN_MICROS
# A user silent for this much stream time holds no like a later one can join.
ROTATE_MICROS = HORIZON_MICROS + SPAN_MICROS
# How many of the latest likes the stream's time is the median of, and how
# many it needs before it tells a time at all (until then nothing is forgotten).
CLOCK_SAMPLE = 101
CLOCK_MIN_SAMPLE = 21
# A user's like times move from a list to an array of 64-bit integers (8
# bytes a like instead of 40) when they hold this many: most users like once
# or twice, and a list is the cheaper start.
COMPACT_AT = 4


class StreamClock:
    """The stream's time: the median of the last CLOCK_SAMPLE like times, in arrival order.

    Fed a chunk of likes at a time. A stray timestamp, or a handful of them,
    cannot move it; a clock step of the producer moves it as soon as most of
    the latest likes carry the new time. On a sparse stream it trails the
    latest like by half the sample, which only makes what it decides (what
    to forget) wait longer.
    """

    def __init__(self) -> None:
        self._latest: list[int] = []
        self.now: int | None = None  # None until CLOCK_MIN_SAMPLE likes have been seen
        # How far it has moved, each way, in steps of at most LATE_MICROS: a
        # jump (a stray block that comes and goes, a clock step) moves nothing.
        self.forward = 0
        self.backward = 0

    def observe(self, times: Sequence[int]) -> int:
        """Take in a chunk's like times; return how many of them jumped: lie
        more than LATE_MICROS from both the stream's time and the like before."""
        latest = self._latest
        latest.extend(times[-CLOCK_SAMPLE:])
        del latest[:-CLOCK_SAMPLE]
        if len(latest) < CLOCK_MIN_SAMPLE:
            return 0
        if self.now is None:  # the first likes: judged by their own median
            self.now = _lower_median(latest)
        jumps = self._jumps(times, latest[-len(times) - 1] if len(times) < len(latest) else None)
        before, self.now = self.now, _lower_median(latest)
        move = self.now - before
        if move > 0 and move <= LATE_MICROS:
            self.forward += move
        elif move < 0 and -move <= LATE_MICROS:
            self.backward -= move
        return jumps

    @property
    def seen_likes(self) -> bool:
        """Whether any like has been observed (the stream may still have no time)."""
        return bool(self._latest)

    def agrees(self, t: int, before: int | None = None) -> bool:
        """Whether `t` lies within LATE_MICROS of the stream's time, or of `before`
        (the time that came before it); true while the stream has no time."""
        now = self.now
        return (
            now is None
            or abs(t - now) <= LATE_MICROS
            or (before is not None and abs(t - before) <= LATE_MICROS)
        )

    def _jumps(self, times: Sequence[int], before: int | None) -> int:
        now = self.now
        if not times or now is None or (now - LATE_MICROS <= min(times) and max(times) <= now + LATE_MICROS):
            return 0  # the common chunk, decided in C
        jumps = 0
        for t in times:
            jumps += not self.agrees(t, before)
            before = t
        return jumps


class LikeWindows:
    """Sliding windows for all users who liked within the last rotation or two.

    Built empty or from a `snapshot()` of an earlier run; later likes extend
    the restored windows.
    """

    def __init__(self, snapshot: WindowSnapshot | None = None, threshold: int = THRESHOLD) -> None:
        self.threshold = threshold
        self.clock = StreamClock()
        self._recent: dict[str, Held] = {user: _held(sorted(t)) for user, t in (snapshot or {}).items() if t}
        self._older: dict[str, Held] = {}
        # The clock's moves (forward, backward) at the last rotation. The
        # first rotation rotates nothing: restored windows must not age out at once.
        self._rotated_at: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self._recent) + len(self._older)

    def likes_held(self) -> int:
        """How many like times are held, over all users: what the windows'
        memory is made of (for the tests: the loop never asks)."""
        return sum(map(len, self._recent.values())) + sum(map(len, self._older.values()))

    def add(self, user: str, t: int) -> Peak | None:
        """Record one like; return the window it completes if that reaches the threshold."""
        return self.add_likes([user], [t])[0].get(user)

    def add_likes(self, users: Sequence[str], times: Sequence[int]) -> tuple[dict[str, Peak], int]:
        """Record likes in stream order (`users[i]` liked at `times[i]`); return,
        per user, the fullest window among those that reached the threshold,
        and how many of the likes jumped (`StreamClock.observe`)."""
        # Once per chunk of the stream, so the loop is this module's hot path:
        # most likes cost a dict lookup and an append.
        peaks: dict[str, Peak] = {}
        recent, older, threshold = self._recent, self._older, self.threshold
        now = self.clock.now
        for user, t in zip(users, times, strict=True):
            held = recent.get(user)
            if held is None:
                held = older.pop(user, None)
                if held is None:
                    recent[user] = [t]
                    if threshold <= 1:
                        keep_best(peaks, user, Peak(1, t, t))
                    continue
                recent[user] = held
            if t >= held[-1]:
                held.append(t)
                if now is not None and held[0] < t - HORIZON_MICROS:  # _floor is no higher
                    _cut(held, _floor(t, now))
                n = len(held)
                if n < threshold:
                    if n >= COMPACT_AT and held.__class__ is list:  # a late like may have passed it
                        recent[user] = array("q", held)
                    continue
                start = bisect_right(held, t - SPAN_MICROS)
                if len(held) - start >= threshold:
                    keep_best(peaks, user, Peak(len(held) - start, held[start], t))
            else:
                peak = _add_late(held, t, threshold, now)
                if peak is not None:
                    keep_best(peaks, user, peak)
        return peaks, self.clock.observe(times)

    def rotate(self) -> None:
        """Forget the users silent since the rotation before the last one, once
        the stream's time has moved ROTATE_MICROS on (either way) since the last
        rotation, counting no jump."""
        clock = self.clock
        if clock.now is None:
            return  # too few likes yet: nothing tells the time
        moved = (clock.forward, clock.backward)
        last = self._rotated_at
        if last is not None and max(moved[0] - last[0], moved[1] - last[1]) < ROTATE_MICROS:
            return
        if last is not None:
            self._older, self._recent = self._recent, {}
        self._rotated_at = moved

    def snapshot(self) -> WindowSnapshot:
        """The like times per user that can still share a window with later likes,
        for saving across a restart. The held lists themselves, cut to that (no
        copy: at the end of a run, a copy of 11 minutes of likes was its peak)."""
        now = self.clock.now
        held_by_user = {**self._older, **self._recent}
        if now is not None:
            for held in held_by_user.values():
                _cut(held, _floor(held[-1], now))
        return held_by_user


def _lower_median(times: Sequence[int]) -> int:
    # The lower one: of two likes, a stray cannot win.
    return sorted(times)[(len(times) - 1) // 2]


def keep_best(peaks: dict[str, Peak], user: str, peak: Peak) -> None:
    """Keep `peak` as `user`'s in `peaks` unless the one there holds more likes."""
    best = peaks.get(user)
    if best is None or peak.likes > best.likes:
        peaks[user] = peak


def _held(times: list[int]) -> Held:
    return array("q", times) if len(times) >= COMPACT_AT else times


def _floor(t: int, now: int) -> int:
    """The oldest like time worth keeping beside a like at `t`, the stream's time being `now`."""
    return min(t, now) - HORIZON_MICROS


def _cut(held: Held, floor: int) -> None:
    del held[: bisect_left(held, floor)]


def _add_late(held: Held, t: int, threshold: int, now: int | None) -> Peak | None:
    """Insert a like older than the user's newest; return the fullest window
    holding it if that reaches `threshold`."""
    insort(held, t)
    if len(held) < threshold:
        return None
    if now is not None:  # until the stream has a time, nothing is cut
        floor = _floor(t, now)
        if held[0] < floor:
            _cut(held, floor)
    first = bisect_right(held, t - SPAN_MICROS)
    last = bisect_right(held, t) - 1
    if last + 1 == len(held) or held[last + 1] >= t + SPAN_MICROS:
        # Nothing held in the span after t (its only later likes are far
        # ahead: a stray of the user's own): t ends its fullest window.
        likes = last + 1 - first
        return Peak(likes, held[first], t) if likes >= threshold else None
    # An out-of-order like only changes windows that start in (t - span, t].
    best = Peak(0, t, t)
    for i in range(first, last + 1):
        stop = bisect_left(held, held[i] + SPAN_MICROS, lo=i)
        if stop - i > best.likes:
            best = Peak(stop - i, held[i], held[stop - 1])
    return best if best.likes >= threshold else None
