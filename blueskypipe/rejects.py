"""What stderr says about rejected lines: the first few in full, then counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from blueskypipe.events import MAX_LINE_BYTES
from blueskypipe.wording import plural

# How many rejected lines are shown in full before only summaries follow.
SHOW_REJECTED = 5
# How much of a shown line is printed.
SHOW_BYTES = 300


class RejectLog:
    """Shows the first `show` rejected lines, then counts the rest by reason
    until `report` summarises them (the ingest loop does, with each progress
    line and at the end)."""

    def __init__(self, log: Callable[[str], None], show: int = SHOW_REJECTED) -> None:
        self.log = log
        self.show = show
        self._shown = 0
        self._unreported: Counter[str] = Counter()

    def note(self, reason: str, line: bytes | None, detail: str | None = None) -> None:
        """One rejected line; None when it was too long to keep (only its reason
        is known). `detail`, if any, is shown after the reason."""
        if self._shown >= self.show:
            self._unreported[reason] += 1
            return
        self._shown += 1
        if line is None:
            shown = f"(over {MAX_LINE_BYTES:,} bytes, not kept)"
        else:
            shown = repr(line[:SHOW_BYTES]) + (" ..." if len(line) > SHOW_BYTES else "")
        why = reason if detail is None else f"{reason}: {detail}"
        self.log(f"rejected line ({why}): {shown}")

    def report(self) -> None:
        """Summarise the lines noted but not shown since the last report."""
        if not self._unreported:
            return
        total = sum(self._unreported.values())
        kinds = ", ".join(f"{reason} {n:,}" for reason, n in self._unreported.most_common())
        self.log(f"{total:,} more {plural(total, 'line')} rejected ({kinds})")
        self._unreported.clear()
