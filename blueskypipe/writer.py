"""Commit batches on a background thread, so SQLite work overlaps parsing.

sqlite3 releases the GIL while SQLite runs, so on two cores the write of
one batch proceeds while the main thread parses the next. There is at most
one batch in flight: the ingest loop hands a batch over only when the
writer is idle and otherwise keeps growing its current batch, so a held
lock never stops it from reading stdin.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from blueskypipe.aggregate import Batch
from blueskypipe.store import Store, StoreBusy, StoreError

# Seconds between attempts while another connection holds the write lock.
RETRY_SECONDS = 0.1


class BackgroundWriter:
    """Writes one batch at a time with `Store.write`, retrying while the lock is held."""

    def __init__(
        self,
        store: Store,
        on_commit: Callable[[Batch], None],
        on_busy: Callable[[str], None],
    ) -> None:
        self.store = store
        self.on_commit = on_commit
        self.on_busy = on_busy
        self._pending: tuple[Batch, dict[str, list[int]] | None] | None = None
        self._error: StoreError | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    def busy(self) -> bool:
        """True while a batch is being written; raises the writer's StoreError, if any."""
        self._raise_error()
        return not self._idle.is_set()

    def submit(self, batch: Batch, windows: dict[str, list[int]] | None = None) -> None:
        """Hand `batch` (and, at the end, a window snapshot) over; the writer
        must be idle (see `busy`)."""
        with self._wake:
            self._idle.clear()
            self._pending = (batch, windows)
            self._wake.notify()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the batch in flight is committed; raise StoreError if it
        failed or is still not committed after `timeout` seconds."""
        if not self._idle.wait(timeout):
            msg = f"{self.store.path} stayed locked for {timeout:.0f} s; a batch was not saved"
            raise StoreError(msg)
        self._raise_error()

    def close(self) -> None:
        """Stop the thread after the batch in flight; the store stays open."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._pending is None:
                    return
                batch, windows = self._pending
            try:
                self._write(batch, windows)
            except StoreError as exc:
                self._error = exc
            finally:
                self._pending = None
                self._idle.set()

    def _write(self, batch: Batch, windows: dict[str, list[int]] | None) -> None:
        warned = False
        while True:
            try:
                self.store.write(batch, windows)
                break
            except StoreBusy as exc:
                if not warned:
                    self.on_busy(f"{exc}; holding {batch.lines:,} lines and retrying")
                    warned = True
                time.sleep(RETRY_SECONDS)
        if warned:
            self.on_busy("database lock released; the held lines are committed")
        self.on_commit(batch)
