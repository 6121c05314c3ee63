"""Read lines from a file descriptor in large chunks, with a timeout.

The ingest loop must never sit in a blocking read while it holds
uncommitted data, so `read` waits at most `timeout` seconds. A line that
grows past `max_line` while it is still incomplete is skipped without being
buffered whole and only counted (see `take_oversized`), so a 50 MB line
costs no more memory than a short one. A long line that arrives whole in
one read (at most CHUNK_BYTES) is returned, and the parser rejects it.
"""

from __future__ import annotations

import os
import select
import time

CHUNK_BYTES = 1 << 20
# A read smaller than this, with nothing more ready, means the input
# trickles in (the live stream, line by line): the reader then lets
# SETTLE_SECONDS of it gather before the loop reads again, so that the loop
# wakes a few dozen times a second rather than once per line.
TRICKLE_BYTES = 4 << 10
SETTLE_SECONDS = 0.05
BOM = b"\xef\xbb\xbf"


class LineReader:
    """Splits the bytes of `fd` into lines (without the trailing newline)."""

    def __init__(self, fd: int, max_line: int, settle: float = 0.0) -> None:
        """`settle`: after a small read, how long the next one lets input
        gather before it reads (SETTLE_SECONDS for the live stream)."""
        self.fd = fd
        self.max_line = max_line
        self.settle = settle
        self._oversized = 0
        self.eof = False
        # How many times a read let input gather (a trickle was found): for
        # the tests, which cannot see a sleep otherwise.
        self.settles = 0
        # True when the last `read` found nothing to read within its timeout.
        self.quiet = False
        self._partial = b""
        self._skipping = False
        # A UTF-8 byte-order mark before the first line is not part of it.
        self._at_start = True

    def read(self, timeout: float) -> list[bytes]:
        """Complete lines available within `timeout` seconds; [] if none.

        At end of input a last line without a newline is returned too, and
        `eof` becomes true.
        """
        if self.eof:
            return []
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        self.quiet = not ready
        if self.quiet:
            return []
        data = os.read(self.fd, CHUNK_BYTES)
        if not data:
            return self._finish()
        if self.settle and len(data) < TRICKLE_BYTES and not select.select([self.fd], [], [], 0)[0]:
            # A trickle, with nothing more (not even the end) ready: let
            # the next lines gather before the loop reads again.
            self.settles += 1
            time.sleep(self.settle)
        return self._split(data)

    def take_oversized(self) -> int:
        """How many lines were skipped as too long since the last call."""
        count, self._oversized = self._oversized, 0
        return count

    def _split(self, data: bytes) -> list[bytes]:
        if self._at_start:
            data = self._strip_bom(data)
            if not data:
                return []
        if self._skipping:
            newline = data.find(b"\n")
            if newline < 0:
                return []
            self._skipping = False
            data = data[newline + 1 :]
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > self.max_line:
            self._partial = b""
            self._skipping = True
            self._oversized += 1
        return lines

    def _strip_bom(self, data: bytes) -> bytes:
        """`data` without a BOM at the very start of the input; waits for
        more while the first bytes could still be the start of one."""
        data = self._partial + data
        self._partial = b""
        if len(data) < len(BOM) and BOM.startswith(data):
            self._partial = data
            return b""
        self._at_start = False
        return data.removeprefix(BOM)

    def _finish(self) -> list[bytes]:
        self.eof = True
        last, self._partial = self._partial, b""
        return [last] if last else []
