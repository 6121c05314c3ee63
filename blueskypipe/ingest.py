"""One run of the pipeline: lines -> aggregator -> one store transaction per batch.

`Ingest.run` owns the run's life: it opens the store, records the run,
loads the fast-liker windows the last graceful stop saved, ingests, and
ends the run's record (with why it ended) and closes the store on every
path. Its loop reads, folds lines into the current batch and, when the
flush policy (flush.py) says so, hands the batch to the background writer.
After a stop request or the end of input, the last batch carries the
fast-liker window state, so that the next run resumes it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from blueskypipe.aggregate import Aggregator, Batch
from blueskypipe.events import LIKE, POST
from blueskypipe.flush import FINAL_WRITE_PATIENCE, WRITER_POLL_SECONDS, FlushPolicy, Step
from blueskypipe.lock import WriterLock
from blueskypipe.rejects import RejectLog
from blueskypipe.source import LineReader
from blueskypipe.store import Store, StoreError
from blueskypipe.windows import LikeWindows
from blueskypipe.writer import BackgroundWriter

Log = Callable[[str], None]


@dataclass
class Options:
    batch_size: int = 20_000
    flush_interval: float = 1.0
    progress_interval: float = 10.0
    drain_seconds: float = 3.0
    retention_minutes: int = 60
    idle_exit: float | None = None  # end the run after this long without input


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
        self.policy = FlushPolicy(
            clock(),
            self.options.batch_size,
            self.options.flush_interval,
            self.options.drain_seconds,
            self.options.idle_exit,
        )
        self._lines_read = 0

    def request_stop(self) -> None:
        """First call: drain the pipe briefly, then stop. Second call: stop now."""
        self.policy.request_stop(self.clock())

    @property
    def end_reason(self) -> str:
        """Why `run` returned, as the runs table records it."""
        # A Ctrl-C in a shell reaches ./bluesky too, so the pipe may also
        # have ended: the signal is the cause.
        if self.policy.stop_requested:
            return "signal"
        return "idle" if self.policy.idle else "end of input"

    def run(self) -> Totals:
        """Ingest until end of input or a stop request, as one recorded run.

        The run's record ends as 'end of input', 'signal', 'idle' (no input
        for `idle_exit` seconds), or 'error' if anything raised, and the
        store is closed, whatever happens. Raises
        StoreError if the database cannot be opened, read or written (or a
        lock held by someone else outlasts FINAL_WRITE_PATIENCE at the end),
        WordToolsError if the word tools cannot be loaded, and AnotherWriter,
        before touching the database, if another handle-stream is writing to it.
        """
        # The lock first: a second writer must not touch the database at all.
        with WriterLock(self.db) as lock, closing(Store(self.db, self.options.retention_minutes)) as store:
            for note in store.upgrade_notes:
                self.log(note)
            store.begin_run()
            lock.describe(f"run {store.run_id}, pid {os.getpid()}, started {store.started_at}")
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
            self._finish(writer)
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
        policy = self.policy
        now = self.clock()
        interval = self.options.progress_interval
        progress_mark, next_progress = (now, 0), now + interval
        while True:
            # Asked on every pass: a finished commit reaches the totals here.
            busy = writer.busy()
            step = policy.step(now, self.aggregator.batch.lines, busy, self.reader.quiet, self.reader.eof)
            if step is Step.STOP:
                return
            if step is Step.HAND_OVER:
                writer.submit(self.aggregator.take_batch())
                policy.handed_over(now)
            elif step is Step.WAIT:
                writer.wait(WRITER_POLL_SECONDS)  # the pipe waits; a stop request is still seen
            else:
                self._read(policy.read_timeout(now, next_progress))
            now = self.clock()
            if now >= next_progress:
                self._progress(progress_mark, now)
                progress_mark, next_progress = (now, self.totals.events), now + interval

    def _finish(self, writer: BackgroundWriter) -> None:
        """Commit the batch in flight, then the last one with the window state;
        raise StoreError when they take longer than FINAL_WRITE_PATIENCE in all."""
        self._wait_for(writer)
        writer.submit(self.aggregator.take_batch(final=True))
        self._wait_for(writer)

    def _wait_for(self, writer: BackgroundWriter) -> None:
        while not writer.wait(WRITER_POLL_SECONDS):
            # Only a lock held by someone else ends the wait; a slow disk does not.
            if writer.locked_out and self.policy.give_up(self.clock()):
                unsaved = self._lines_read - self.totals.lines
                msg = (
                    f"{self.db} stayed locked for {FINAL_WRITE_PATIENCE:.0f} s;"
                    f" the last {unsaved:,} lines read were not saved"
                )
                raise StoreError(msg)

    def _read(self, timeout: float) -> None:
        agg = self.aggregator
        lines = self.reader.read(timeout)
        agg.add_lines(lines, self.rejects.note)
        oversized = self.reader.take_oversized()
        for _ in range(oversized):
            agg.add_rejected("too_long")
            self.rejects.note("too_long", None)
        self._lines_read += len(lines) + oversized

    def _progress(self, mark: tuple[float, int], now: float) -> None:
        since, events_then = mark
        rate = (self.totals.events - events_then) / max(now - since, 1e-9)
        self.log(f"{rate:,.0f} events/s | {self.totals.describe()}")
        self.rejects.report()
