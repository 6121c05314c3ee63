"""Counts with thousands separators in Datasette's HTML pages (500,150, not
500150). The JSON and CSV exports keep plain numbers."""

from __future__ import annotations

from datasette import hookimpl

# The columns that hold counts, in the tables and views of schema.sql; ids,
# times and Unix seconds are left as they are.
COUNTS = frozenset({"likes", "posts", "n", "events", "lines", "rejected", "far_off_likes"})


@hookimpl
def render_cell(value: object, column: str) -> str | None:
    if column in COUNTS and type(value) is int:
        return f"{value:,}"
    return None  # Datasette's own rendering
