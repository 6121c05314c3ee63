"""The writer's store for a place (places.py): SQLite's `Store`, or the
ClickHouse store, imported only when a ClickHouse place is opened (its
client comes with the `clickhouse` extra): start-up stays SQLite's."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

from blueskypipe.lock import WriterLock
from blueskypipe.places import Place
from blueskypipe.records import Batch, Blocks, EndReason, WindowSnapshot
from blueskypipe.store import Store


class Writable(Protocol):
    """What a run needs of its store. Every method raises StoreError."""

    upgrade_notes: list[str]
    keeps_events: bool  # whether its batches should carry their valid events

    @property
    def path(self) -> object: ...  # what messages call it: never a password
    @property
    def run_id(self) -> int | None: ...
    @property
    def started_at(self) -> str | None: ...

    def begin_run(self) -> None: ...
    def end_run(self, reason: EndReason) -> None: ...
    def discard_run(self) -> None: ...
    def write(self, batch: Batch) -> None: ...
    def take_windows(self) -> tuple[WindowSnapshot, int]: ...
    def load_voices(self) -> tuple[Blocks, list[int]]: ...
    def close(self) -> None: ...


def writer_lock(place: Place) -> AbstractContextManager[WriterLock | None]:
    """The lock that keeps a second handle-stream out: of the SQLite file, or
    of the embedded database's folder (chdb allows one process per folder).
    None for a server, where several writers, each with its own share, may
    write at once."""
    if isinstance(place, Path):
        return WriterLock(place)
    if place.embedded is not None:
        return WriterLock(place.embedded)
    return nullcontext()


def open_store(place: Place, *, retention_minutes: int, share: str, keep_events_days: int) -> Writable:
    """The store of `place`, for one run of handle-stream. The share and
    the days of raw events are ClickHouse's: SQLite keeps rollups only."""
    if isinstance(place, Path):
        return Store(place, retention_minutes)
    from blueskypipe.clickhouse import ClickHouseStore, connect

    return ClickHouseStore(connect(place), share=share, path=place, keep_events_days=keep_events_days)
