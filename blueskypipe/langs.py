"""Language labels of a post (SPEC §4): primary subtags of `record.langs`."""

from __future__ import annotations

import re
from functools import lru_cache

UNKNOWN = "unknown"
INVALID = "invalid"

_BCP47_LIKE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


@lru_cache(maxsize=4096)
def label(tag: str) -> str:
    """The counted label of one tag: its lowercased primary subtag, or 'invalid'."""
    if not _BCP47_LIKE.fullmatch(tag):
        return INVALID
    return tag.partition("-")[0].lower()


def labels(langs: list[str] | None) -> set[str]:
    """The distinct labels a post counts under; 'unknown' when it declares none."""
    if not langs:
        return {UNKNOWN}
    return {label(tag) for tag in langs}
