"""Commit batches on a background thread, so SQLite work overlaps parsing.

sqlite3 releases the GIL while SQLite runs, so on two cores the write of
one batch proceeds while the main thread parses the next. There is at most
one batch in flight, a `Future` of a one-thread pool: the ingest loop hands
a batch over only when the writer is idle and otherwise keeps growing its
current batch, so a held lock never stops it from reading stdin.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor

from blueskypipe.errors import StoreBusy
from blueskypipe.records import Batch
from blueskypipe.stores import Writable
from blueskypipe.wording import counted

# Seconds between attempts while another connection holds the write lock.
RETRY_SECONDS = 0.1


class BackgroundWriter:
    """Writes one batch at a time with `Store.write`, retrying while the lock is held.

    `on_commit(batch)` runs on the caller's thread (in `collect` or `wait`), so
    whatever it updates is only ever changed by that thread.
    """

    def __init__(
        self,
        store: Writable,
        on_commit: Callable[[Batch], None],
        on_busy: Callable[[str], None],
    ) -> None:
        self.store = store
        self.on_commit = on_commit
        self.on_busy = on_busy
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._in_flight: Future[Batch] | None = None
        self._closing = threading.Event()
        # Set by the writer thread while it retries a lock held by someone else.
        self._locked_out = threading.Event()

    @property
    def busy(self) -> bool:
        """Whether the writer holds a batch: being written, or written and not
        yet collected (`submit` takes a batch only when it is not busy)."""
        return self._in_flight is not None

    def collect(self) -> None:
        """Report the batch in flight to `on_commit` if it has been written;
        raise the writer's StoreError if its write failed."""
        if self._in_flight is not None and self._in_flight.done():
            self._collect(self._in_flight)

    def submit(self, batch: Batch) -> None:
        """Hand `batch` over; the writer must not be busy."""
        if self._in_flight is not None:
            msg = "the writer still holds the previous batch"
            raise RuntimeError(msg)
        self._in_flight = self._pool.submit(self._write, batch)

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the batch in flight; True once none is
        in flight (it was committed). Raises the writer's StoreError, if any."""
        if self._in_flight is None:
            return True
        if not futures.wait([self._in_flight], timeout).done:
            return False
        self._collect(self._in_flight)
        return True

    @property
    def locked_out(self) -> bool:
        """True while the batch in flight waits for another connection's lock
        (not while SQLite is merely slow)."""
        return self._locked_out.is_set()

    def close(self) -> None:
        """Stop the thread; a batch still retrying a held lock is given up."""
        self._closing.set()
        self._pool.shutdown(wait=True)

    def _collect(self, done: Future[Batch]) -> None:
        self._in_flight = None
        self.on_commit(done.result())  # raises the write's StoreError

    def _write(self, batch: Batch) -> Batch:
        warned = False
        while True:
            try:
                self.store.write(batch)
                break
            except StoreBusy as exc:
                if self._closing.is_set():
                    raise
                if not warned:
                    self.on_busy(f"{exc}; holding {counted(batch.lines, 'line')} and retrying")
                    warned = True
                self._locked_out.set()
                self._closing.wait(RETRY_SECONDS)
        self._locked_out.clear()
        if warned:
            self.on_busy("database lock released; the held lines are committed")
        return batch
