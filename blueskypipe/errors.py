"""The errors of writing: raised by the store and the writer lock, caught by
the ingest run and the CLI. A module of its own so that neither of the two
that raise them has to import the other."""

from __future__ import annotations


class StoreError(Exception):
    """The database cannot be written (disk full, read-only, not a database)."""


class StoreBusy(StoreError):
    """Another connection holds the write lock; retry the same batch later."""


class AnotherWriter(StoreError):
    """Another handle-stream is writing to this database."""
