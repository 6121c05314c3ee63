"""Exact per-user sliding windows over like times (docs/metrics.md#fast-likers).

A user's window count for a start like s is the number of their likes t
with s <= t < s + span. Each user keeps the likes that can still share a
window with their newest like (plus, until a window could reach the
threshold, up to `threshold` older ones), and users silent for a span are
evicted, so memory is bounded by the likes of the last `span` of event time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
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


class _UserWindow:
    """Sorted like times of one user, from `times[head]` on. Likes a minute
    older than the newest are dropped when a window could reach the
    threshold, so up to `threshold` of them may linger until then."""

    __slots__ = ("times", "head")

    def __init__(self, first: int) -> None:
        self.times: list[int] = [first]
        self.head = 0

    def live(self) -> list[int]:
        newest = self.times[-1]
        return [t for t in self.times[self.head :] if t > newest - SPAN_MICROS]

    def add(self, t: int, threshold: int, span: int = SPAN_MICROS) -> Peak | None:
        """Insert `t`; return the fullest window holding it if that reaches `threshold`."""
        times = self.times
        if t >= times[-1]:
            times.append(t)
            head = self.head
            # Fewer likes held than the threshold, expired ones included: no
            # window can reach it, so the expired ones can wait (at most
            # `threshold` of them) and most likes cost an append and a compare.
            if len(times) - head < threshold:
                return None
            while times[head] <= t - span:
                head += 1
            # Compact only now and then, so eviction stays O(1) amortised.
            if head > 64 and head * 2 > len(times):
                del times[:head]
                head = 0
            self.head = head
            likes = len(times) - head
            return Peak(likes, times[head], t) if likes >= threshold else None
        if t <= times[-1] - span:
            # Time jumped back by more than a window (clock change, replayed
            # file): nothing held can share a window with t, so start over.
            self.times, self.head = [t], 0
            return Peak(1, t, t) if threshold <= 1 else None
        insort(times, t, lo=self.head)
        best = self._best_window_around(t, span)
        return Peak(*best) if best[0] >= threshold else None

    def _best_window_around(self, t: int, span: int) -> tuple[int, int, int]:
        # An out-of-order like only changes windows that start in (t - span, t].
        times = self.times
        first = bisect_right(times, t - span, lo=self.head)
        last = bisect_right(times, t) - 1
        best = (0, t, t)
        for i in range(first, last + 1):
            stop = bisect_left(times, times[i] + span, lo=i)
            if stop - i > best[0]:
                best = (stop - i, times[i], times[stop - 1])
        return best


class LikeWindows:
    """Sliding windows for all users who liked within the last minute.

    Built empty or from a `snapshot()` of an earlier run; later likes extend
    the restored windows.
    """

    def __init__(self, snapshot: WindowSnapshot | None = None, threshold: int = THRESHOLD) -> None:
        self.threshold = threshold
        self._users: dict[str, _UserWindow] = {}
        for user, times in (snapshot or {}).items():
            if times:
                window = _UserWindow(0)
                window.times = sorted(times)
                self._users[user] = window

    def __len__(self) -> int:
        return len(self._users)

    def add(self, user: str, t: int) -> Peak | None:
        """Record a like; return the window it completes if that reaches the threshold."""
        window = self._users.get(user)
        if window is None:
            # Most users like once a minute or less: a new window of one like
            # is the common case and never reaches the threshold.
            self._users[user] = _UserWindow(t)
            return Peak(1, t, t) if self.threshold <= 1 else None
        return window.add(t, self.threshold)

    def evict(self, now: int) -> None:
        """Forget users whose newest like is a minute or more away from `now`.

        Both directions count, so a clock that jumped back does not pin the
        users of the abandoned future in memory.
        """
        stale = [u for u, w in self._users.items() if abs(now - w.times[-1]) >= SPAN_MICROS]
        for user in stale:
            del self._users[user]

    def snapshot(self) -> WindowSnapshot:
        """The held like times per user, for saving across a restart."""
        return {user: w.live() for user, w in self._users.items()}
