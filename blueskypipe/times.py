"""Event time as the rollups store it: one scale and one pair of text forms.

An event's time is kept as microseconds since 0001-01-01 of its naive
wall-clock time (no time-zone conversion: docs/metrics.md#time). Every minute key and
every timestamp the database holds is built from that number here, so a
timestamp written in any ISO-8601 form lands in the same minute everywhere.
"""

from __future__ import annotations

from datetime import datetime

MICROS_PER_DAY = 86_400_000_000
MICROS_PER_MINUTE = 60_000_000


def micros(dt: datetime) -> int:
    """`dt`'s wall-clock time as microseconds since 0001-01-01; an offset, if any, is ignored."""
    seconds = (dt.hour * 60 + dt.minute) * 60 + dt.second
    return dt.toordinal() * MICROS_PER_DAY + seconds * 1_000_000 + dt.microsecond


def minute_text(at: int) -> str:
    """The minute of `at` (microseconds), as the rollups key it: 'YYYY-MM-DD HH:MM'."""
    day, seconds, _ = _split(at)
    return f"{day} {seconds // 3600:02d}:{seconds // 60 % 60:02d}"


def timestamp_text(at: int) -> str:
    """`at` (microseconds) as naive ISO-8601 with microseconds: 'YYYY-MM-DDTHH:MM:SS.ffffff'."""
    day, seconds, micro = _split(at)
    return f"{day}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{micro:06d}"


def _split(at: int) -> tuple[str, int, int]:
    days, rest = divmod(at, MICROS_PER_DAY)
    seconds, micro = divmod(rest, 1_000_000)
    day = datetime.fromordinal(days)
    # By hand: strftime('%Y') does not zero-pad years below 1000.
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}", seconds, micro
