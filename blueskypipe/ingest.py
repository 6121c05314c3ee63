"""One run of the pipeline: lines -> aggregator -> one store transaction per batch.

`Ingest.run` owns the run's life: it opens the store, records the run,
loads the fast-liker windows the last graceful stop saved, ingests, and
ends the run's record (with why it ended) and closes the store on every path.

The loop hands the current batch to the background writer when it holds
`batch_size` lines or `flush_interval` seconds have passed, whichever comes
first, so a quiet stream is still committed every second. While the writer
is busy (a slow commit, a lock held by someone else) the loop keeps reading
into the same batch. A stop request (signal) lets it drain what is already
in the pipe (until the pipe is empty for a moment, or for at most
`drain_seconds`), then it commits the last batch together with the
fast-liker window state.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from blueskypipe.aggregate import Aggregator, Batch
from blueskypipe.events import LIKE, POST
from blueskypipe.rejects import RejectLog
from blueskypipe.source import LineReader
from blueskypipe.store import Store
from blueskypipe.windows import LikeWindows
from blueskypipe.writer import BackgroundWriter

Log = Callable[[str], None]

# While stopping, this long without input means the pipe is drained.
DRAIN_QUIET_SECONDS = 0.2
# How often a batch that waits for the busy writer checks on it.
WRITER_POLL_SECONDS = 0.02
# A quiet stream still commits this often (an empty batch), so that the
# last commit time tells `periodic` the process is alive.
HEARTBEAT_SECONDS = 15.0
# A stop waits this long for a lock held by someone else before giving up.
FINAL_WRITE_PATIENCE = 10.0
# While the writer is stuck, the loop stops reading (and so holds up the
# pipe) once its batch is this many times `batch_size`: memory stays bounded.
MAX_HELD_BATCHES = 50


@dataclass
class Options:
    batch_size: int = 20_000
    flush_interval: float = 1.0
    progress_interval: float = 10.0
    drain_seconds: float = 3.0
    retention_minutes: int = 60


class Totals:
    """What has been committed so far, for progress lines and the summary.
    Changed on the main thread only (the writer reports commits there)."""

    def __init__(self) -> None:
        self.lines = 0
        self.events = 0
        self.by_collection: Counter[str] = Counter()
        self.last_event_time: str | None = None

    def add(self, batch: Batch) -> None:
        self.lines += batch.lines
        self.events += batch.events
        self.by_collection.update(batch.by_collection)
        self.last_event_time = batch.last_event_time or self.last_event_time

    @property
    def rejected(self) -> int:
        return self.lines - self.events

    def describe(self) -> str:
        likes = self.by_collection[LIKE]
        posts = self.by_collection[POST]
        return (
            f"{self.events:,} events (likes {likes:,}, posts {posts:,}, "
            f"other {self.events - likes - posts:,}), {self.rejected:,} rejected, "
            f"last event {self.last_event_time or '-'}"
        )


class Ingest:
    """One run into the database at `db`; `request_stop` may be called from a signal handler."""

    def __init__(
        self,
        db: Path,
        reader: LineReader,
        log: Log,
        options: Options | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.reader = reader
        self.log = log
        self.options = options or Options()
        self.clock = clock
        # Replaced at the start of the run by one that resumes the saved windows.
        self.aggregator = Aggregator()
        self.totals = Totals()
        self.rejects = RejectLog(log)
        # True once stdin is being read: what was committed then means something.
        self.reading = False
        self._stop_at: float | None = None

    def request_stop(self) -> None:
        """First call: drain the pipe briefly, then stop. Second call: stop now."""
        now = self.clock()
        if self._stop_at is None:
            self._stop_at = now + self.options.drain_seconds
        else:
            self._stop_at = now

    @property
    def end_reason(self) -> str:
        """Why `run` returned, as the runs table records it."""
        # A Ctrl-C in a shell reaches ./bluesky too, so the pipe may also
        # have ended: the signal is the cause.
        return "signal" if self._stop_at is not None else "end of input"

    def run(self) -> Totals:
        """Ingest until end of input or a stop request, as one recorded run.

        The run's record ends as 'end of input', 'signal', or 'error' if
        anything raised, and the store is closed, whatever happens. Raises
        StoreError if the database cannot be opened, read or written (or a
        lock held by someone else outlasts FINAL_WRITE_PATIENCE at the end).
        """
        with closing(Store(self.db, self.options.retention_minutes)) as store:
            store.begin_run()
            try:
                self._ingest(store)
            except BaseException:
                store.end_run("error")
                raise
            store.end_run(self.end_reason)
        return self.totals

    def _ingest(self, store: Store) -> None:
        self._resume_windows(store)
        self.log(f"reading stdin into {store.path}")
        self.reading = True
        writer = BackgroundWriter(store, self.totals.add, self.log)
        try:
            self._loop(writer)
            writer.wait(FINAL_WRITE_PATIENCE)
            # The last batch carries the window state, so a restart resumes it.
            writer.submit(self.aggregator.take_batch(final=True))
            writer.wait(FINAL_WRITE_PATIENCE)
        finally:
            writer.close()
        self.rejects.report()

    def _resume_windows(self, store: Store) -> None:
        windows, dropped = store.take_windows()
        if dropped:
            self.log(
                f"warning: dropped {dropped:,} saved fast-liker window{'s' if dropped != 1 else ''}"
                " that could not be read (like_windows); those users' windows start over"
            )
        self.aggregator = Aggregator(LikeWindows(windows))

    def _loop(self, writer: BackgroundWriter) -> None:
        options = self.options
        started = self.clock()
        next_flush = started + options.flush_interval
        next_progress = started + options.progress_interval
        next_heartbeat = started + HEARTBEAT_SECONDS
        progress_mark = (started, 0)
        while not self._should_stop():
            self._read(self._timeout(min(next_flush, next_progress)))
            now = self.clock()
            # Asked on every pass: a finished commit reaches the totals here.
            busy = writer.busy()
            held = self.aggregator.batch.lines
            due = now >= next_flush
            if held >= options.batch_size or (due and (held or now >= next_heartbeat)):
                if busy and held >= options.batch_size * MAX_HELD_BATCHES:
                    writer.wait()
                    busy = False
                if not busy:
                    writer.submit(self.aggregator.take_batch())
                    next_flush = now + options.flush_interval
                    next_heartbeat = now + HEARTBEAT_SECONDS
            elif due:
                next_flush = now + options.flush_interval  # nothing to write yet
            if now >= next_progress:
                self._progress(progress_mark, now)
                progress_mark = (now, self.totals.events)
                next_progress = now + options.progress_interval

    def _should_stop(self) -> bool:
        if self.reader.eof:
            return True
        # After a stop request, an empty pipe means everything sent was read.
        return self._stop_at is not None and (self.reader.quiet or self.clock() >= self._stop_at)

    def _timeout(self, deadline: float) -> float:
        if self._stop_at is not None:
            return DRAIN_QUIET_SECONDS
        # A deadline already past means a batch waits for the busy writer:
        # poll for it without spinning on an idle pipe.
        return max(WRITER_POLL_SECONDS, deadline - self.clock())

    def _read(self, timeout: float) -> None:
        agg = self.aggregator
        agg.add_lines(self.reader.read(timeout), self.rejects.note)
        for _ in range(self.reader.take_oversized()):
            agg.add_rejected("too_long")
            self.rejects.note("too_long", None)

    def _progress(self, mark: tuple[float, int], now: float) -> None:
        since, events_then = mark
        rate = (self.totals.events - events_then) / max(now - since, 1e-9)
        self.log(f"{rate:,.0f} events/s | {self.totals.describe()}")
        self.rejects.report()
