"""How a count reads in a message: "1 event", "2,001 events"."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """`word` as it reads after the count `n`: as given after 1, with an "s" after any other."""
    return word if n == 1 else f"{word}s"


def counted(n: int, word: str) -> str:
    """The count `n` with thousands separators, then `word` as it reads after it."""
    return f"{n:,} {plural(n, word)}"
