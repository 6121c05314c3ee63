"""LineReader over a real pipe: lines across writes, end of input, quiet reads, long lines, BOM, CRLF."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from blueskypipe.source import BOM, SETTLE_SECONDS, LineReader

# Long enough for every read of a test to find what was written before it.
TIMEOUT = 5.0


class Pipe:
    """A real pipe: the test writes one end, a LineReader reads the other."""

    def __init__(self, max_line: int = 1000) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.reader = LineReader(self.read_fd, max_line)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.write_fd, view) :]

    def close_writer(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def send(self, data: bytes) -> list[bytes]:
        """Write `data` (whole, before the read) and read once."""
        self.write(data)
        return self.reader.read(TIMEOUT)

    def rest(self) -> list[bytes]:
        """Close the writing end and read until end of input."""
        self.close_writer()
        return self.until_eof()

    def until_eof(self) -> list[bytes]:
        """Read until end of input (whoever closes the writing end)."""
        lines: list[bytes] = []
        deadline = time.monotonic() + TIMEOUT
        while not self.reader.eof:
            assert time.monotonic() < deadline, "no end of input"
            lines += self.reader.read(TIMEOUT)
        return lines

    def close(self) -> None:
        self.close_writer()
        os.close(self.read_fd)


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    pipe = Pipe()
    yield pipe
    pipe.close()


def test_lines_split_across_writes_are_joined(pipe: Pipe) -> None:
    assert pipe.send(b'{"a": 1}\n{"b"') == [b'{"a": 1}']
    assert pipe.send(b": 2") == []
    assert pipe.send(b'}\n\n{"c": 3}\n') == [b'{"b": 2}', b"", b'{"c": 3}']
    assert pipe.rest() == []
    assert pipe.reader.eof


def test_a_last_line_without_newline_comes_at_end_of_input(pipe: Pipe) -> None:
    assert pipe.send(b"first\nlast") == [b"first"]
    assert pipe.reader.eof is False
    assert pipe.rest() == [b"last"]
    assert pipe.reader.eof is True
    assert pipe.reader.read(TIMEOUT) == [], "nothing after the end"


def test_end_of_input_after_a_newline_adds_no_empty_line(pipe: Pipe) -> None:
    pipe.write(b"a\nb\n")
    assert pipe.rest() == [b"a", b"b"]


def test_a_read_that_times_out_with_nothing_is_quiet(pipe: Pipe) -> None:
    assert pipe.reader.read(0) == []
    assert pipe.reader.quiet is True
    assert pipe.reader.eof is False
    assert pipe.send(b"line\n") == [b"line"]
    assert pipe.reader.quiet is False
    # A read that found only part of a line heard something: not quiet.
    assert pipe.send(b"part") == []
    assert pipe.reader.quiet is False
    assert pipe.reader.read(0) == []
    assert pipe.reader.quiet is True
    assert pipe.rest() == [b"part"]
    assert pipe.reader.quiet is False, "the end of input is not silence"


def test_a_line_longer_than_the_max_is_dropped_and_counted() -> None:
    pipe = Pipe(max_line=10)
    try:
        assert pipe.send(b"ok\n" + b"x" * 11) == [b"ok"]
        assert pipe.reader.take_oversized() == 1
        assert pipe.reader.take_oversized() == 0, "counted once, then taken"
        assert pipe.send(b"y" * 50) == []
        assert pipe.send(b"z\nnext\n0123456789") == [b"next"]
        assert pipe.reader.take_oversized() == 0, "one long line is one"
        # Exactly the max is not too long.
        assert pipe.send(b"\n") == [b"0123456789"]
        assert pipe.rest() == []
        assert pipe.reader.take_oversized() == 0
    finally:
        pipe.close()


def test_an_overlong_last_line_is_not_returned_at_end_of_input() -> None:
    pipe = Pipe(max_line=10)
    try:
        assert pipe.send(b"a\n" + b"x" * 20) == [b"a"]
        assert pipe.rest() == []
        assert pipe.reader.take_oversized() == 1
    finally:
        pipe.close()


def test_a_huge_line_is_never_held_whole() -> None:
    line_bytes = 32 << 20
    piece = b"x" * (64 << 10)
    pipe = Pipe(max_line=1000)

    def feed() -> None:
        pipe.write(b"before\n")
        for _ in range(line_bytes // len(piece)):
            pipe.write(piece)
        pipe.write(b"\nafter\n")
        pipe.close_writer()

    writer = threading.Thread(target=feed, daemon=True)
    tracemalloc.start()
    try:
        writer.start()
        lines = pipe.until_eof()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        writer.join(timeout=TIMEOUT)
        pipe.close()
    assert lines == [b"before", b"after"]
    assert pipe.reader.take_oversized() == 1
    # A read is at most a chunk (1 MiB): the line itself (32 MiB) was never buffered.
    assert peak < 8 << 20, f"peak {peak:,} bytes while reading a {line_bytes:,}-byte line"


def test_a_bom_at_the_very_start_is_stripped(pipe: Pipe) -> None:
    assert pipe.send(BOM + b"first\n" + BOM + b"second\n") == [b"first", BOM + b"second"]
    assert pipe.send(BOM + b"third\n") == [BOM + b"third"], "only the input's start has a BOM"


def test_a_bom_split_across_writes_is_stripped(pipe: Pipe) -> None:
    assert pipe.send(BOM[:1]) == []
    assert pipe.send(BOM[1:2]) == []
    assert pipe.send(BOM[2:] + b"first\n") == [b"first"]


def test_a_start_like_a_bom_but_not_one_is_kept(pipe: Pipe) -> None:
    assert pipe.send(BOM[:2] + b"x\n") == [BOM[:2] + b"x"]


def test_an_input_of_only_part_of_a_bom_is_returned_at_end(pipe: Pipe) -> None:
    assert pipe.send(BOM[:2]) == []
    assert pipe.rest() == [BOM[:2]]


def test_lines_split_at_newline_only_and_keep_a_carriage_return(pipe: Pipe) -> None:
    # The reader splits at b"\n" and removes only that byte: a CR before it
    # stays in the line (JSON reads it as trailing whitespace), and a lone CR
    # does not end a line.
    assert pipe.send(b'{"a": 1}\r\n{"b": 2}\r\n') == [b'{"a": 1}\r', b'{"b": 2}\r']
    assert pipe.send(b"one\rstill one\n\r\n") == [b"one\rstill one", b"\r"]
    pipe.write(b"last\r")
    assert pipe.rest() == [b"last\r"]


def test_a_trickle_of_lines_is_read_in_few_reads_once_it_may_settle() -> None:
    # The live stream writes line by line: reading each as it comes woke the
    # loop 1,500 times a second. After a small read the next one waits for
    # more to gather, so 300 lines over 0.3 s come in a handful of reads.
    read_fd, write_fd = os.pipe()
    reader = LineReader(read_fd, 1 << 20, settle=SETTLE_SECONDS)

    def trickle() -> None:
        for i in range(300):
            os.write(write_fd, b'{"line": %d}\n' % i)
            time.sleep(0.001)
        os.close(write_fd)

    writer = threading.Thread(target=trickle)
    writer.start()
    lines, reads = [], 0
    while not reader.eof:
        found = reader.read(1.0)
        reads += bool(found)
        lines += found
    writer.join()
    os.close(read_fd)
    assert len(lines) == 300
    assert reads <= 0.4 / SETTLE_SECONDS + 5, reads  # about one a settle, not one a line


@pytest.mark.parametrize(
    ("data", "end", "settles"),
    [
        (b"one line\n", False, 1),  # a trickle: let more gather
        (b"one line\n", True, 0),  # the input ended: nothing more will come
        ((b"x" * 99 + b"\n") * 100, False, 0),  # 10 KB ready: a burst, read on at once
    ],
)
def test_a_read_settles_only_on_a_trickle_that_goes_on(data: bytes, end: bool, settles: int) -> None:
    pipe = Pipe(max_line=1 << 20)
    pipe.reader.settle = SETTLE_SECONDS
    try:
        pipe.write(data)
        if end:
            pipe.close_writer()
        assert pipe.reader.read(TIMEOUT)
        assert pipe.reader.settles == settles
    finally:
        pipe.close()
