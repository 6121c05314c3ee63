"""Language labels of a post (docs/metrics.md#posts-per-language): primary subtags of `record.langs`."""

from __future__ import annotations

import re
from functools import lru_cache

UNKNOWN = "unknown"
INVALID = "invalid"

_BCP47_LIKE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
# Some clients write several tags in one string: "en-US;en", "en,es", "fr de".
_SEPARATORS = re.compile(r"[;,\s]+")


@lru_cache(maxsize=4096)
def label(tag: str) -> str:
    """The counted label of one tag: its lowercased primary subtag, or 'invalid'."""
    if not _BCP47_LIKE.fullmatch(tag):
        return INVALID
    return tag.partition("-")[0].lower()


@lru_cache(maxsize=4096)
def tag_labels(tag: str) -> frozenset[str]:
    """The labels of one `langs` entry, which may hold several tags; 'invalid' if it holds none."""
    tags = [part for part in _SEPARATORS.split(tag) if part]
    return frozenset(label(part) for part in tags) if tags else frozenset((INVALID,))


_UNKNOWN = frozenset((UNKNOWN,))


def labels(langs: list[str] | None) -> frozenset[str]:
    """The distinct labels a post counts under; 'unknown' when it declares none."""
    if not langs:
        return _UNKNOWN
    if len(langs) == 1:  # most posts: one cached answer, no set built
        return tag_labels(langs[0])
    return frozenset().union(*map(tag_labels, langs))
