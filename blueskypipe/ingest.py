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

from blueskypipe import options
from blueskypipe.aggregate import Aggregator
from blueskypipe.errors import AnotherWriter, StoreError
from blueskypipe.events import LIKE, POST
from blueskypipe.flush import FINAL_WRITE_PATIENCE, WRITER_POLL_SECONDS, FlushPolicy, Step
from blueskypipe.places import Place
from blueskypipe.records import Batch, EndReason
from blueskypipe.rejects import RejectLog
from blueskypipe.source import LineReader
from blueskypipe.stores import Writable, open_store, writer_lock
from blueskypipe.voices import Voices
from blueskypipe.wording import counted
from blueskypipe.words import WordToolsError
from blueskypipe.writer import BackgroundWriter

Log = Callable[[str], None]


@dataclass
class Options:
    """The settings of a run; those a user sets default as their options do."""

    batch_size: int = options.BATCH_SIZE.default
    flush_interval: float = options.FLUSH_INTERVAL.default
    progress_interval: float = options.PROGRESS_INTERVAL.default
    retention_minutes: int = options.RETENTION_MINUTES.default
    idle_exit: float | None = options.IDLE_EXIT.default  # end the run after this long without input
    share: str = options.SHARE.default  # the writer's part of the stream, on ClickHouse
    keep_events_days: int = options.KEEP_EVENTS_DAYS.default  # on ClickHouse
    drain_seconds: float = 3.0  # after a stop request, for what is already in the pipe


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
            f"{counted(self.events, 'event')} (likes {likes:,}, posts {posts:,}, "
            f"other {self.events - likes - posts:,}), {self.rejected:,} rejected, "
            f"last event {self.last_event_time or '-'}"
        )


@dataclass(frozen=True)
class RunResult:
    totals: Totals
    end_reason: EndReason


class RunFailed(Exception):
    """The run could not go on (the database cannot be written, the word tools
    cannot be loaded); `committed`: what was committed before, once reading began."""

    def __init__(self, message: str, committed: Totals | None) -> None:
        super().__init__(message)
        self.committed = committed


class Ingest:
    """One run into the database at `db`; `request_stop` may be called from a signal handler."""

    def __init__(
        self,
        db: Place,
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
        self.totals = Totals()
        self.rejects = RejectLog(log)
        self.policy = FlushPolicy(
            clock(),
            self.options.batch_size,
            self.options.flush_interval,
            self.options.drain_seconds,
            self.options.idle_exit,
        )
        self.lines_read = 0

    def request_stop(self) -> None:
        """First call: drain the pipe briefly, then stop. Second call: stop now."""
        self.policy.request_stop(self.clock())

    def run(self) -> RunResult:
        """Ingest until end of input, a stop request or `idle_exit` seconds
        without input, as one recorded run.

        The run's record ends with why it ended, or 'error' if anything
        raised, and the store is closed, whatever happens. Raises
        AnotherWriter, before touching the database, if another
        handle-stream is writing to it, and RunFailed if the database
        cannot be opened, read or written (or a lock held by someone else
        outlasts FINAL_WRITE_PATIENCE at the end) or the word tools cannot
        be loaded.
        """
        # The lock first: a second writer must not touch the database at all.
        reading = False
        try:
            with (
                writer_lock(self.db) as lock,
                closing(self._open_store()) as store,
            ):
                for note in store.upgrade_notes:
                    self.log(note)
                if store.keeps_events:
                    self.policy.hold_raw_lines()
                store.begin_run()
                if lock is not None:
                    lock.describe(f"run {store.run_id}, pid {os.getpid()}, started {store.started_at}")
                try:
                    aggregator = self._resume(store)
                    self.log(f"reading stdin into {store.path}")
                    reading = True
                    reason = self._ingest(store, aggregator)
                except BaseException:
                    store.end_run(EndReason.ERROR)
                    raise
                if reason is EndReason.END_OF_INPUT and self.lines_read == 0:
                    # Nothing came (no ./bluesky at the other end of the
                    # pipe): a run without input would only be noise in
                    # the history.
                    store.discard_run()
                    self.log("no input came: is the firehose client there? (./bluesky | ./handle-stream)")
                else:
                    store.end_run(reason)
        except AnotherWriter:
            raise
        except (StoreError, WordToolsError) as exc:
            raise RunFailed(str(exc), self.totals if reading else None) from exc
        return RunResult(self.totals, reason)

    def _open_store(self) -> Writable:
        settings = self.options
        return open_store(
            self.db,
            retention_minutes=settings.retention_minutes,
            share=settings.share,
            keep_events_days=settings.keep_events_days,
        )

    def _ingest(self, store: Writable, aggregator: Aggregator) -> EndReason:
        writer = BackgroundWriter(store, self.totals.add, self.log)
        try:
            reason = self._loop(writer, aggregator)
            self._finish(writer, aggregator)
        finally:
            writer.close()
        self.rejects.report()
        return reason

    def _resume(self, store: Writable) -> Aggregator:
        """An aggregator that goes on from the state the last graceful stop saved."""
        windows, dropped = store.take_windows()
        if dropped:
            self.log(
                f"warning: dropped {counted(dropped, 'saved fast-liker window')}"
                " that could not be read (like_windows); those users' windows start over"
            )
        return Aggregator(resume=windows, voices=Voices(*store.load_voices()), keep_events=store.keeps_events)

    def _loop(self, writer: BackgroundWriter, aggregator: Aggregator) -> EndReason:
        policy, reader = self.policy, self.reader
        now = self.clock()
        interval = self.options.progress_interval
        progress_mark, next_progress = (now, 0), now + interval
        while True:
            writer.collect()  # a finished commit reaches the totals here
            lines, busy = aggregator.batch.lines, writer.busy
            if not reader.quiet:
                policy.heard(now)
            reason = policy.stop_reason(now, lines, busy, reader.quiet, reader.eof)
            if reason is not None:
                policy.stopped(now)
                return reason
            step = policy.next_step(now, lines, busy)
            if step is Step.HAND_OVER:
                writer.submit(aggregator.take_batch())
                policy.handed_over(now)
            elif step is Step.WAIT:
                writer.wait(WRITER_POLL_SECONDS)  # the pipe waits; a stop request is still seen
            else:
                self._read(aggregator, policy.read_timeout(now, next_progress, lines))
            now = self.clock()
            if now >= next_progress:
                self._progress(progress_mark, now)
                progress_mark, next_progress = (now, self.totals.events), now + interval

    def _finish(self, writer: BackgroundWriter, aggregator: Aggregator) -> None:
        """Commit the batch in flight, then the last one with the window state;
        raise StoreError when they take longer than FINAL_WRITE_PATIENCE in all."""
        self._wait_for(writer)
        writer.submit(aggregator.take_batch(final=True))
        self._wait_for(writer)

    def _wait_for(self, writer: BackgroundWriter) -> None:
        while not writer.wait(WRITER_POLL_SECONDS):
            # Only a lock held by someone else ends the wait; a slow disk does not.
            if writer.locked_out and self.policy.give_up(self.clock()):
                unsaved = self.lines_read - self.totals.lines
                msg = (
                    f"{self.db} stayed locked for {FINAL_WRITE_PATIENCE:.0f} s;"
                    f" the last {counted(unsaved, 'line')} read were not saved"
                )
                raise StoreError(msg)

    def _read(self, aggregator: Aggregator, timeout: float) -> None:
        reader = self.reader
        lines = reader.read(timeout)
        aggregator.add_lines(lines, self.rejects.note)
        oversized = reader.take_oversized()
        for _ in range(oversized):
            aggregator.add_rejected("too_long")
            self.rejects.note("too_long", None)
        self.lines_read += len(lines) + oversized

    def _progress(self, mark: tuple[float, int], now: float) -> None:
        since, events_then = mark
        rate = (self.totals.events - events_then) / max(now - since, 1e-9)
        self.log(f"{rate:,.0f} events/s | {self.totals.describe()}")
        self.rejects.report()
