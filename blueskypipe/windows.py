"""Exact per-user sliding windows over like times (docs/metrics.md#fast-likers).

A user's window count for a start like s is the number of their likes t
with s <= t < s + span. Each user keeps a sorted list of recent like times:
below `threshold` likes nothing is dropped (no window can reach it), from
there on the likes a span older than the newest are cut off, so a list
holds at most `threshold` likes or one span of them.

Users are kept in two generations, the users touched since the last
rotation and those of the one before. A rotation, at least a span of event
time after the previous one, drops the older generation whole: its users
have been silent for a span, so no later like can share a window with
theirs. Memory is bounded by the likes of the last two spans, and no pass
ever visits the users that stay.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass

SPAN_MICROS = 60_000_000
THRESHOLD = 50

# The held like times (microseconds) of each user, as saved across a restart.
WindowSnapshot = dict[str, list[int]]


@dataclass(slots=True)
class Peak:
    """The fullest window seen for a user: its size and first/last like."""

    likes: int
    start: int
    end: int


class LikeWindows:
    """Sliding windows for all users who liked within the last span or two.

    Built empty or from a `snapshot()` of an earlier run; later likes extend
    the restored windows.
    """

    def __init__(self, snapshot: WindowSnapshot | None = None, threshold: int = THRESHOLD) -> None:
        self.threshold = threshold
        self._recent: dict[str, list[int]] = {user: sorted(t) for user, t in (snapshot or {}).items() if t}
        self._older: dict[str, list[int]] = {}
        # Restored windows count as touched at their newest like, so that the
        # first rotation comes a span after it, not at once.
        self._rotated_at: int | None = max((held[-1] for held in self._recent.values()), default=None)

    def __len__(self) -> int:
        return len(self._recent) + len(self._older)

    def add(self, user: str, t: int) -> Peak | None:
        """Record one like; return the window it completes if that reaches the threshold."""
        return self.add_likes([user], [t]).get(user)

    def add_likes(self, users: Sequence[str], times: Sequence[int]) -> dict[str, Peak]:
        """Record likes in stream order (`users[i]` liked at `times[i]`); return,
        per user, the fullest window among those that reached the threshold."""
        # Once per chunk of the stream, so the loop is this module's hot path:
        # most likes cost a dict lookup and an append.
        peaks: dict[str, Peak] = {}
        recent, older, threshold = self._recent, self._older, self.threshold
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
                if len(held) < threshold:
                    continue  # no window can reach it: expired likes may wait
                cut = bisect_right(held, t - SPAN_MICROS)
                if cut:
                    del held[:cut]
                if len(held) >= threshold:
                    keep_best(peaks, user, Peak(len(held), held[0], t))
            else:
                peak = _add_late(held, t, threshold)
                if peak is not None:
                    keep_best(peaks, user, peak)
        return peaks

    def rotate(self, now: int) -> None:
        """Forget the users silent since the rotation before the last one, once
        `now` is a span or more away from the last rotation.

        Both directions count, so a clock that jumped back does not pin the
        users of the abandoned future in memory.
        """
        if self._rotated_at is not None and abs(now - self._rotated_at) < SPAN_MICROS:
            return
        self._older, self._recent = self._recent, {}
        self._rotated_at = now

    def snapshot(self) -> WindowSnapshot:
        """The like times per user that can still share a window with later likes,
        for saving across a restart."""
        return {
            user: [t for t in held if t > held[-1] - SPAN_MICROS]
            for generation in (self._older, self._recent)
            for user, held in generation.items()
        }


def keep_best(peaks: dict[str, Peak], user: str, peak: Peak) -> None:
    """Keep `peak` as `user`'s in `peaks` unless the one there holds more likes."""
    best = peaks.get(user)
    if best is None or peak.likes > best.likes:
        peaks[user] = peak


def _add_late(held: list[int], t: int, threshold: int) -> Peak | None:
    """Insert a like older than the user's newest; return the fullest window
    holding it if that reaches `threshold`."""
    if t <= held[-1] - SPAN_MICROS:
        # Time jumped back by more than a window (clock change, replayed
        # file): nothing held can share a window with t, so start over.
        held[:] = [t]
        return Peak(1, t, t) if threshold <= 1 else None
    insort(held, t)
    # An out-of-order like only changes windows that start in (t - span, t].
    first = bisect_right(held, t - SPAN_MICROS)
    last = bisect_right(held, t) - 1
    best = Peak(0, t, t)
    for i in range(first, last + 1):
        stop = bisect_left(held, held[i] + SPAN_MICROS, lo=i)
        if stop - i > best.likes:
            best = Peak(stop - i, held[i], held[stop - 1])
    return best if best.likes >= threshold else None
