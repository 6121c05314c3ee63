"""One handle-stream per database: two would count every event twice.

The guard is an exclusive `flock` on a small file beside the database
(`bluesky.db-writer`), held for the whole run. The kernel releases it when
its owner exits in any way, kill -9 and power loss included, so a crash
never leaves the database locked; a flag stored in the database would.
Readers never take it; `periodic` only probes it (`writer_running`), to
tell a run that died from one that goes on. The file also says who holds
it, for the error the next writer prints.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from blueskypipe.errors import AnotherWriter, StoreError

# How long a refused writer tries again: longer than a reader's probe holds
# its shared lock (microseconds), far shorter than a start-up.
PROBE_PATIENCE = 0.2


class WriterLock:
    """Held from `acquire` until `release` (or the end of a `with` block)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        # Resolved: the same database reached through a symlink gets the same lock.
        self.path = Path(f"{db.resolve()}-writer")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock; raise AnotherWriter, naming the holder, if another
        process has it, and StoreError if the lock file cannot be opened."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            msg = f"cannot open {self.path}: {exc.strerror}"
            raise StoreError(msg) from exc
        if not _take(fd):
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "starting up"
            os.close(fd)
            msg = (
                f"another handle-stream is writing to {self.db} ({holder});"
                " stop it first, or give this one another --db"
            )
            raise AnotherWriter(msg) from None
        self._fd = fd
        self.describe(f"pid {os.getpid()}")

    def describe(self, holder: str) -> None:
        """Say who holds the lock, for the next writer's error."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, holder.encode() + b"\n", 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the file stays: removing it would race a writer opening it
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _take(fd: int) -> bool:
    """Take the exclusive lock on `fd`; False if another writer holds it. A
    reader's probe (`writer_running`) holds a shared lock for a moment, so a
    refusal is tried again for PROBE_PATIENCE seconds before it counts."""
    deadline = time.monotonic() + PROBE_PATIENCE
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def writer_running(db: Path) -> bool | None:
    """Whether a handle-stream holds the writer lock of `db` now; None when
    that cannot be known (the lock file exists but cannot be opened). A
    shared lock is tried and let go at once; no lock file means no writer."""
    try:
        fd = os.open(f"{db.resolve()}-writer", os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the shared lock, if taken
    return False
