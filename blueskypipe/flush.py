"""When the ingest loop hands its batch to the writer, reads on, waits, or stops.

A small pure object. The loop tells it what happened (input arrived, a
batch was handed over, a stop was asked for, the last writes began) and
asks it questions: whether the run ends now and why, and otherwise the
next step, given the time (the loop's injected clock), how many lines the
current batch holds, whether the writer is busy and what the last read
found. Questions change nothing. It never reads a clock, sleeps or does
I/O, so each rule is tested with plain numbers.

- Size and interval: the batch is handed over when it holds `batch_size`
  lines or `interval` seconds have passed, whichever comes first.
- Heartbeat: a quiet stream still commits an empty batch now and then, so
  that the last commit time tells `periodic` the process is alive.
- Back-pressure: while the writer is busy (a slow commit, a lock held by
  someone else) the loop reads on into the same batch, until it holds
  MAX_HELD_BATCHES times `batch_size`; then it stops reading (the pipe
  waits), so memory stays bounded. A batch that keeps its raw lines (for
  ClickHouse's events table) stops at MAX_HELD_RAW_LINES.
- Stop: a first request drains what is already in the pipe (until it is
  empty for a moment, or for at most `drain_seconds`); a second stops now.
  With `idle_exit`, no input for that long stops too (`idle`): a firehose
  client that hangs without closing the pipe would otherwise go unnoticed.
  Then the last writes get FINAL_WRITE_PATIENCE in all, however long a
  lock is held.
"""

from __future__ import annotations

from enum import Enum

from blueskypipe.records import EndReason

HEARTBEAT_SECONDS = 15.0
MAX_HELD_BATCHES = 50
# A held line whose raw event is kept costs about 750 bytes until written.
MAX_HELD_RAW_LINES = 100_000
FINAL_WRITE_PATIENCE = 10.0
# While stopping, this long without input means the pipe is drained.
DRAIN_QUIET_SECONDS = 0.2
# How often a batch that waits for the busy writer checks on it.
WRITER_POLL_SECONDS = 0.02


class Step(Enum):
    READ = "read more input into the batch"
    HAND_OVER = "hand the batch to the writer"
    WAIT = "wait for the writer without reading"


class FlushPolicy:
    """The flush and stop rules of one run, from its start at `now`."""

    def __init__(
        self,
        now: float,
        batch_size: int,
        interval: float,
        drain_seconds: float,
        idle_exit: float | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.max_held = batch_size * MAX_HELD_BATCHES  # lines a batch may hold while the writer is busy
        self.interval = interval
        self.drain_seconds = drain_seconds
        self.idle_exit = idle_exit
        self._input_at = now
        self._next_flush = now + interval
        self._next_heartbeat = now + HEARTBEAT_SECONDS
        self._stop_at: float | None = None
        self._give_up_at: float | None = None

    def hold_raw_lines(self) -> None:
        """The batches keep their raw lines: hold fewer while the writer is busy."""
        self.max_held = min(self.max_held, max(self.batch_size, MAX_HELD_RAW_LINES))

    @property
    def stop_requested(self) -> bool:
        return self._stop_at is not None

    def request_stop(self, now: float) -> None:
        """First call: drain the pipe briefly, then stop. Second call: stop now."""
        self._stop_at = now + self.drain_seconds if self._stop_at is None else now

    def heard(self, now: float) -> None:
        """Input was there at `now`: the last read found some, and no read
        since found the pipe empty (a batch that waits for the writer reads
        nothing, but its input waits in the pipe)."""
        self._input_at = now

    def stop_reason(self, now: float, lines: int, busy: bool, quiet: bool, eof: bool) -> EndReason | None:
        """Why reading ends now, or None to go on; `quiet`: the last read found
        the pipe empty; `eof`: the input has ended; `lines`: the current batch's."""
        # A Ctrl-C in a shell reaches ./bluesky too, so the pipe may also
        # have ended: the signal is the cause. Under back-pressure nothing
        # more is read, so there is nothing left to drain.
        if self._stop_at is not None and (eof or quiet or self._pressed(lines, busy) or now >= self._stop_at):
            return EndReason.SIGNAL
        if eof:
            return EndReason.END_OF_INPUT
        if self.idle_exit is not None and now - self._input_at >= self.idle_exit:
            return EndReason.IDLE
        return None

    def next_step(self, now: float, lines: int, busy: bool) -> Step:
        """The next step for a batch of `lines` lines, while reading goes on."""
        if self._pressed(lines, busy):
            return Step.WAIT
        due = now >= self._next_flush and (lines > 0 or now >= self._next_heartbeat)
        if lines >= self.batch_size or due:
            return Step.READ if busy else Step.HAND_OVER
        return Step.READ

    def handed_over(self, now: float) -> None:
        """The batch went to the writer at `now`: the next one is due an interval later."""
        self._next_flush = now + self.interval
        self._next_heartbeat = now + HEARTBEAT_SECONDS

    def stopped(self, now: float) -> None:
        """Reading ended at `now`: the last writes begin, and get FINAL_WRITE_PATIENCE."""
        self._give_up_at = now + FINAL_WRITE_PATIENCE

    def _pressed(self, lines: int, busy: bool) -> bool:
        return busy and lines >= self.max_held

    def read_timeout(self, now: float, wake_at: float, lines: int) -> float:
        """How long the next read may wait for input, for a batch of `lines`
        lines; `wake_at`: the caller's own next deadline."""
        if self._stop_at is not None:
            return DRAIN_QUIET_SECONDS
        # An empty batch is due at the heartbeat (and not before the next
        # flush), but the loop still looks up every interval: a signal does
        # not cut a read short. A deadline already past means a batch waits
        # for the busy writer: poll for it without spinning on an idle pipe.
        due = (
            self._next_flush
            if lines
            else min(now + self.interval, max(self._next_flush, self._next_heartbeat))
        )
        return max(WRITER_POLL_SECONDS, min(due, wake_at) - now)

    def give_up(self, now: float) -> bool:
        """Whether the last writes, which began at `stopped`, have had FINAL_WRITE_PATIENCE."""
        return self._give_up_at is not None and now >= self._give_up_at
