"""One voice counts once in the word chart (docs/metrics.md#one-voice-counts-once).

Job boards and bots post one template again and again, from one account or
from many. So a word counts at most once per author in 24 hours, and a
qualifying post whose text was counted in the last 24 hours (compared after
case and whitespace folding, links removed) adds nothing, whoever posts it.

Posts are compared by their own times. The word chart's time is the median
of the last RECENT_POSTS qualifying posts' times: the likes' clock would do
as well on a clean stream, but a block of stray likes moves it, and the
word chart would then forget. A post stamped far from it is a stray and
adds no words, so that no stray can block a day of real posts; a block set
by one before there was a time to judge it by stops nothing once there is.

What is remembered is a 64-bit hash per (author, word) and per text, with
the time until which it blocks: about 90,000 of them (11 MB) a day at the
network's rate, forgotten soon after they expire. Changes are written with
the batch that made them, so after a crash the memory and the counts agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b

from blueskypipe.records import Blocks
from blueskypipe.times import MICROS_PER_DAY, MICROS_PER_MINUTE
from blueskypipe.windows import LATE_MICROS

# A voice blocks its repeats for this long after it counted.
BLOCK_MICROS = MICROS_PER_DAY
# The word chart's time is the lower median of this many qualifying posts'
# times: one stray, or four in a row, cannot move it.
RECENT_POSTS = 9
# A post this far before the word chart's time is a stray (up to 10 minutes
# late is a post out of order); so is one more than a day after it, which a
# clock step forward of less than a day is not.
EARLIEST_MICROS = LATE_MICROS
LATEST_MICROS = MICROS_PER_DAY
# A block that ended this long before the word chart's time can stop no post
# again, even after the time has drifted back by as much again.
FORGET_MICROS = 2 * EARLIEST_MICROS
# A block that ends further than this after the word chart's time was set by
# a stray (a post more than a day ahead) before the chart had a time, among
# its first RECENT_POSTS posts: it stops nothing, and is forgotten.
STRAY_BLOCK_MICROS = BLOCK_MICROS + LATEST_MICROS


def _hash(kind: bytes, *parts: str) -> int:
    # Separated by a byte no text or DID holds: ("ab", "c") is not ("a", "bc").
    data = kind + b"\0" + "\0".join(parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big", signed=True)


def text_voice(folded_text: str) -> int:
    """The hash a folded text is remembered by."""
    return _hash(b"t", folded_text)


def word_voice(author: str, word: str) -> int:
    """The hash an author's use of a word is remembered by."""
    return _hash(b"w", author, word)


class Voices:
    """What counted in the last 24 hours, the word chart's time, and what
    changed since the last batch."""

    def __init__(self, blocks: Blocks | None = None, recent: list[int] | None = None) -> None:
        self._blocks: Blocks = dict(blocks or {})
        self._recent: list[int] = list(recent or [])[-RECENT_POSTS:]  # qualifying posts' times, as they came
        self._changed: Blocks = {}
        self._recent_changed = False
        self._swept: int | None = None  # the chart's time when blocks were last forgotten

    def __len__(self) -> int:
        return len(self._blocks)

    @property
    def now(self) -> int | None:
        """The word chart's time; None until RECENT_POSTS qualifying posts came."""
        if len(self._recent) < RECENT_POSTS:
            return None
        return sorted(self._recent)[(RECENT_POSTS - 1) // 2]

    def admit(self, author: str, at: int, folded_text: str, words: Iterable[str]) -> list[str]:
        """The words of a qualifying post by `author`, stamped `at`, that count:
        none if it is a stray or its text counted in the last 24 hours, else
        those the author has not had counted in that time."""
        now = self.now
        self._recent.append(at)
        del self._recent[:-RECENT_POSTS]
        self._recent_changed = True
        if now is not None and not now - EARLIEST_MICROS <= at <= now + LATEST_MICROS:
            return []
        until = at + BLOCK_MICROS  # one object for all the post's blocks: a fifth less memory
        latest = None if now is None else now + STRAY_BLOCK_MICROS
        if not self._claim(text_voice(folded_text), at, until, latest):
            return []
        return [word for word in words if self._claim(word_voice(author, word), at, until, latest)]

    def _claim(self, voice: int, at: int, until: int, latest: int | None) -> bool:
        """Whether `voice` may count at `at`; if so, it blocks until `until`.
        A block past `latest` stops nothing."""
        blocked_until = self._blocks.get(voice)
        if blocked_until is not None and at < blocked_until and (latest is None or blocked_until <= latest):
            return False
        self._blocks[voice] = self._changed[voice] = until
        return True

    def take_changes(self) -> tuple[Blocks, list[int] | None]:
        """The blocks set since the last call, and the recent times if they
        changed, for the batch that saves them."""
        changed, self._changed = self._changed, {}
        recent = self._recent.copy() if self._recent_changed else None
        self._recent_changed = False
        return changed, recent

    def forget(self) -> tuple[int, int] | None:
        """Drop the blocks that can stop no post again; returns the ends
        between which saved blocks are worth keeping (None: all are, yet)."""
        now = self.now
        if now is None:
            return None
        below, latest = now - FORGET_MICROS, now + STRAY_BLOCK_MICROS
        # Looked over once a minute of the chart's time: a block lives a day.
        if self._swept is None or not 0 <= now - self._swept < MICROS_PER_MINUTE:
            self._swept = now
            self._blocks = {voice: until for voice, until in self._blocks.items() if below <= until <= latest}
        return below, latest
