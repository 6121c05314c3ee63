"""The values that pass between modules: a batch of deltas, a fast liker's
peak window, the saved windows, and why a run ended.

Data only: the aggregator fills a `Batch`, the writer hands it to the
store, the store turns it into rows. None of them needs to import another
to know its shape.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

# A user's held like times (microseconds, times.py), sorted.
Held: TypeAlias = "list[int] | array[int]"  # array is not subscriptable at run time
# The held like times of each user, as saved across a restart.
WindowSnapshot: TypeAlias = "dict[str, Held]"
# The word chart's memory (voices.py): a voice's hash -> the stream time
# (microseconds) until which it counts no more.
Blocks: TypeAlias = "dict[int, int]"
# A valid event as received, for a store that keeps raw events: (its time
# in microseconds as times.py counts them, timestamp, collection, DID,
# action, the line itself).
ValidEvent: TypeAlias = "tuple[int, str, str, str, str, bytes]"


@dataclass(slots=True)
class Peak:
    """The fullest window seen for a user: its size and first/last like."""

    likes: int
    start: int
    end: int


class EndReason(StrEnum):
    """Why a run ended, as `runs.end_reason` records it."""

    END_OF_INPUT = "end of input"
    SIGNAL = "signal"  # SIGINT or SIGTERM
    IDLE = "idle"  # no input for --idle-exit seconds
    ERROR = "error"
    # Written by the next run for one that never recorded an end (kill -9, a
    # crash, a lost machine); a run still going has none yet.
    KILLED = "killed"


@dataclass
class Batch:
    """Counter deltas of a run of lines, written in one transaction.

    The rollup fields are named after the tables they feed. The last batch
    of a run also carries the fast-liker windows, so that the next run
    resumes them.
    """

    # minute -> user -> likes. Nested rather than keyed by (minute, user): a
    # chunk's likes of one minute are counted by one Counter.update, with no
    # key object built.
    likes_by_user_minute: dict[str, Counter[str]] = field(default_factory=dict)
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
    far_off_likes: int = 0  # likes that jumped (windows.StreamClock.observe)
    stream_micros: int | None = None  # the stream's time at the batch's end, for retention

    windows: WindowSnapshot | None = None
    # The word chart's memory (voices.py): blocks set in this batch, and the
    # ends between which saved blocks are worth keeping.
    voices: Blocks = field(default_factory=dict)
    recent_post_times: list[int] | None = None  # when they changed
    voices_kept_between: tuple[int, int] | None = None
    # Every valid event of the batch, in stream order, when the store keeps
    # raw events (ClickHouse); None when it keeps rollups only.
    valid_events: list[ValidEvent] | None = None

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
