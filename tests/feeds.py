"""A steady feed into a process that may be killed, and the loss a kill may
cost: what the kill -9 tests of both stores judge by."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from tests import reference

FEED_RATE = 5_000  # lines/s, several times the live firehose
FEED_TICK = 0.01  # seconds between writes
# What a kill may cost: the lines fed in the last LOSS_SECONDS before it
# (one flush interval plus a commit), plus what can sit unread in the pipe.
LOSS_SECONDS = 1.25
PIPE_BYTES = 64 << 10


class Lines:
    """A file of event lines held as one bytes object, with the byte offset
    where each line starts (starts[n] is also the size of the first n lines)."""

    def __init__(self, path: Path) -> None:
        self.data = path.read_bytes()
        starts = [0]
        at = self.data.find(b"\n")
        while at >= 0:
            starts.append(at + 1)
            at = self.data.find(b"\n", at + 1)
        self.starts = starts

    def __len__(self) -> int:
        return len(self.starts) - 1

    def span(self, first: int, last: int) -> memoryview:
        return memoryview(self.data)[self.starts[first] : self.starts[last]]


class PacedFeed:
    """Feeds lines[start:] to a process at FEED_RATE lines/s on a thread, as
    a live source with a backlog would: behind schedule, it writes what is
    due at once. `log` holds (time, lines fed so far) after every write."""

    def __init__(self, proc: subprocess.Popen, lines: Lines, start: int) -> None:
        self.proc = proc
        self.lines = lines
        self.started = time.monotonic()
        self.log: list[tuple[float, int]] = [(self.started, start)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, args=(start,), daemon=True)
        self._thread.start()

    def _write(self, fed: int) -> None:
        assert self.proc.stdin is not None
        start = fed
        try:
            while not self._stop.is_set():
                due = min(len(self.lines), start + int(FEED_RATE * (time.monotonic() - self.started)))
                if due > fed:
                    self.proc.stdin.write(self.lines.span(fed, due))
                    self.proc.stdin.flush()
                    fed = due
                    self.log.append((time.monotonic(), fed))
                self._stop.wait(FEED_TICK)
        except (BrokenPipeError, ValueError, OSError):
            pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def fed_by(self, moment: float) -> int:
        """Lines whose write had returned by `moment`."""
        return max(n for at, n in self.log if at <= moment) if self.log[0][0] <= moment else self.log[0][1]

    def time_fed(self, lines: int) -> float:
        """When the first `lines` lines had all been written."""
        return next(at for at, n in self.log if n >= lines)


def likes_prefix(events: list[dict]) -> list[int]:
    """likes[n]: likes among the first n events."""
    counts = [0]
    for e in events:
        is_like = e["action"] == "create" and e["path"].split("/")[0] == reference.LIKE
        counts.append(counts[-1] + is_like)
    return counts
