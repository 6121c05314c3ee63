"""The rollups in ClickHouse: the same batches, the same four metrics.

Every batch the aggregator hands over becomes one insert into one table,
`deltas`: a row per (kind, key) the batch changed, with its count. One
insert is one part, which ClickHouse commits whole or not at all, so after
a kill the table holds an exact prefix of whole batches; and each insert
carries a deduplication token (share, run, batch), so a batch sent again
after a timeout counts once. The metrics are read by summing the deltas:
ClickHouse merges parts in the background, but never a row of one batch
into another's, so a sum is always exact.

Every valid event is also kept as received in `events`, a MergeTree table
with a TTL, for questions over history. A batch's events are inserted
before its deltas: the deltas are the batch's commit, and a writer that
starts deletes the events of a batch its share's previous run inserted
without the deltas (a kill between the two inserts).

A share is the name of a writer's part of the stream (all users, or those
of one partition of a log keyed by DID); runs are numbered per share, so
several writers never collide.

Nothing here is imported on the SQLite path: clickhouse-connect and chdb
come with the `clickhouse` extra.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from blueskypipe.db import local_now
from blueskypipe.errors import StoreError
from blueskypipe.export import METRICS
from blueskypipe.places import ClickHouse
from blueskypipe.records import Batch, Blocks, EndReason, WindowSnapshot
from blueskypipe.store import ingest_counts
from blueskypipe.times import MICROS_PER_DAY, MICROS_PER_MINUTE, micros, minute_text

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


def _tables() -> dict[str, str]:
    """The CREATE TABLE statements of clickhouse.sql, by table name."""
    text = resources.files("blueskypipe").joinpath("clickhouse.sql").read_text(encoding="utf-8")
    # Without the comments: the client reads a query's first word to tell a
    # command from a query.
    text = re.sub(r"^--.*\n", "", text, flags=re.MULTILINE)
    statements = (s for s in text.split(";") if "CREATE TABLE" in s)
    return {re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", s)[1]: s.strip() for s in statements}  # type: ignore[index]


TABLES = _tables()
COLUMNS = ["share", "run", "batch", "kind", "k1", "k2", "n"]
EVENT_COLUMNS = ["share", "run", "batch", "time", "timestamp", "collection", "did", "action", "line"]
_EPOCH = micros(datetime(1970, 1, 1))
_TIMES = (micros(datetime(1900, 1, 1)) - _EPOCH, micros(datetime(2299, 12, 31, 23, 59, 59)) - _EPOCH)
# A silence between two minutes a run saw is filled with zeros when a minute
# or more is missing between them and they are at most a day apart, as in
# schema.sql's metric_likes_per_minute.
_FILL_FROM = 2 * MICROS_PER_MINUTE
_FILL_TO = MICROS_PER_DAY


@dataclass(frozen=True)
class Row:
    kind: str
    k1: str
    k2: str
    n: int


def batch_rows(batch: Batch) -> Iterator[Row]:
    """The deltas of `batch`, as rows of the `deltas` table (run rows aside)."""
    for minute, likes in batch.likes_by_minute.items():
        yield Row("minute", minute, "", likes)
    for user, peak in batch.fast_likers.items():
        yield Row("fast", user, "", peak.likes)
    for word, n in batch.word_counts.items():
        yield Row("word", word, "", n)
    for (word, form), n in batch.word_forms.items():
        yield Row("form", word, form, n)
    for lang, n in batch.posts_by_lang.items():
        yield Row("lang", lang, "", n)
    for name, n in ingest_counts(batch).items():
        yield Row("count", name, "", n)
    for voice, until in batch.voices.items():
        yield Row("voice", str(voice), "", until)
    if batch.recent_post_times is not None:
        yield Row("recent", "", orjson.dumps(batch.recent_post_times).decode(), 0)
    if batch.voices_kept_between is not None:
        yield Row("kept", "", orjson.dumps(batch.voices_kept_between).decode(), 0)
    for user, times in (batch.windows or {}).items():
        if times:
            yield Row("window", user, orjson.dumps(list(times)).decode(), 0)


def _run_rows(batch: Batch, now: float) -> Iterator[Row]:
    """What the runs table of SQLite records of a batch: counts, times, and
    the commit's own (Unix seconds, for the status's rate and freshness)."""
    yield Row("run", "lines", "", batch.lines)
    yield Row("run", "events", "", batch.events)
    yield Row("run", "commit", repr(now), batch.events)
    if batch.far_off_likes:
        yield Row("run", "far_off_likes", "", batch.far_off_likes)
    for name in ("first_event_time", "first_minute", "last_event_time", "last_minute"):
        value = getattr(batch, name)
        if value is not None:
            yield Row("run", name, value, 0)


def connect(place: ClickHouse) -> Client:
    """A client of `place`. Raises StoreError, naming the place masked."""
    import clickhouse_connect

    # Its log would add a line of its own to every failure we report.
    logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)
    try:
        return clickhouse_connect.get_client(dsn=place.dsn)
    except Exception as exc:  # the driver and chdb raise their own kinds
        msg = f"cannot open {place}: {_first_line(exc)}"
        raise StoreError(msg) from exc


class ClickHouseStore:
    """The writer's side: runs, batches, and what a later run resumes from.
    Every failure raises StoreError."""

    def __init__(
        self,
        client: Client,
        share: str = "",
        path: object = "ClickHouse",
        keep_events_days: int = 7,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock` gives the wall-clock times the run rows record."""
        self.client = client
        self.clock = clock
        self.share = share
        self.path = path  # what messages call it: the place, masked
        self._command(TABLES["deltas"])
        self.keeps_events = keep_events_days > 0
        if self.keeps_events:
            self._keep_events_for(keep_events_days)
        self.run_id = 0
        self._tokens = ""
        self.started_at: str | None = None
        self._batch = 0
        self.upgrade_notes: list[str] = []

    def close(self) -> None:
        self.client.close()

    def _keep_events_for(self, days: int) -> None:
        """Create the events table, or give it this TTL: the writer started
        last decides how long events are kept."""
        self._command(TABLES["events"].replace("{days}", str(days)))
        ((engine,),) = self._query(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'events'"
        )
        # Only when it changes: a new TTL is applied to every part already there.
        if re.findall(r"TTL received \+ toIntervalDay\((\d+)\)", engine) != [str(days)]:
            self._command(f"ALTER TABLE events MODIFY TTL received + INTERVAL {days} DAY")

    def begin_run(self) -> None:
        ((latest,),) = self._query(
            "SELECT max(run) FROM deltas WHERE share = {share:String}", share=self.share
        )
        previous = int(latest or 0)
        self._forget_uncommitted_events(previous)
        self.run_id = previous + 1
        # The run's tokens are its own: a run number a discarded run (or a
        # writer of the same share elsewhere) used must not make ClickHouse
        # drop this run's batches as repeats.
        self._tokens = f"{self.share}/{self.run_id}/{uuid.uuid4().hex}"
        self._batch = 0
        self._end_if_open(previous)
        self._forget_what_no_run_reads(previous)
        self.started_at = local_now(self.clock())
        self._insert_deltas(self._claim(), [Row("run", "started", self.started_at, 0)])

    def _end_if_open(self, run: int) -> None:
        """Record the share's `run` as killed if it never recorded an end,
        as SQLite's next run does: no writer of the share runs but this one."""
        ((ended,),) = self._query(
            "SELECT count() FROM deltas WHERE kind = 'run' AND k1 = 'end'"
            " AND share = {share:String} AND run = {run:UInt32}",
            share=self.share,
            run=run,
        )
        if run and not ended:
            data = [[self.share, run, 0, "run", "end", EndReason.KILLED.value, 0]]
            self._insert("deltas", COLUMNS, data, 0)

    def _forget_what_no_run_reads(self, previous: int) -> None:
        """Delete the share's saved state that no later run can read, as
        SQLite's upserts replace it: voice blocks ended before the ends the
        latest batch kept (a voice counts by its latest block), all but the
        latest recent post times and kept ends, and windows of runs before
        `previous` (a run resumes the one before it). Once per start: a
        delete is a rewrite of the parts it touches."""
        share = self.share
        ((kept,),) = self._query(
            "SELECT argMax(k2, (run, batch)) FROM deltas WHERE kind = 'kept' AND share = {share:String}",
            share=share,
        )
        ((kept_at, recent_at),) = self._query(
            "SELECT maxIf((run, batch), kind = 'kept'), maxIf((run, batch), kind = 'recent') FROM deltas"
            " WHERE kind IN ('kept', 'recent') AND share = {share:String}",
            share=share,
        )
        low = orjson.loads(kept)[0] if kept else None
        where = (
            "share = {share:String} AND ("
            "(kind = 'voice' AND n < {low:Int64})"
            " OR (kind = 'kept' AND (run, batch) < ({kept_run:UInt32}, {kept_batch:UInt64}))"
            " OR (kind = 'recent' AND (run, batch) < ({recent_run:UInt32}, {recent_batch:UInt64}))"
            " OR (kind = 'window' AND run < {previous:UInt32}))"
        )
        parameters = {
            "share": share,
            "low": -(2**63) if low is None else low,
            "kept_run": kept_at[0],
            "kept_batch": kept_at[1],
            "recent_run": recent_at[0],
            "recent_batch": recent_at[1],
            "previous": previous,
        }
        self._delete("deltas", where, **parameters)

    def end_run(self, reason: EndReason) -> None:
        """Record why the run ended. Best effort, as SQLite's: after an
        error the database may be what failed."""
        ended = [Row("run", "end", reason.value, 0), Row("run", "ended_at", local_now(self.clock()), 0)]
        try:
            self._insert_deltas(self._claim(), ended)
        except StoreError:
            pass

    def discard_run(self) -> None:
        """Forget a run that read nothing: its rows go."""
        self._command(
            "DELETE FROM deltas WHERE share = {share:String} AND run = {run:UInt32}",
            share=self.share,
            run=self.run_id,
        )

    def _forget_uncommitted_events(self, run: int) -> None:
        """Delete the events of the share's `run` whose batch has no deltas:
        a kill, or a failed insert, between a batch's two inserts left them.
        Every batch's deltas hold its commit row."""
        ((found,),) = self._query("EXISTS TABLE events")
        if not found:
            return
        where = "share = {share:String} AND run = {run:UInt32}"
        ((committed,),) = self._query(
            f"SELECT max(batch) FROM deltas WHERE {where} AND kind = 'run' AND k1 = 'commit'",
            share=self.share,
            run=run,
        )
        self._delete(
            "events", f"{where} AND batch > {{batch:UInt64}}", share=self.share, run=run, batch=committed
        )

    def _delete(self, table: str, where: str, **parameters: object) -> None:
        """Delete the rows of `table` that match, if any: a delete that finds
        nothing would still rewrite parts."""
        ((found,),) = self._query(f"SELECT count() FROM {table} WHERE {where}", **parameters)
        if found:
            self._command(f"DELETE FROM {table} WHERE {where}", **parameters)

    def write(self, batch: Batch) -> None:
        """Insert the batch's valid events, then all its deltas at once: one
        part, all or nothing, which commits the batch."""
        number = self._claim()
        if self.keeps_events and batch.valid_events:
            low, high = _TIMES
            rows = [
                [self.share, self.run_id, number, min(max(at - _EPOCH, low), high), *rest]
                for at, *rest in batch.valid_events
            ]
            self._insert("events", EVENT_COLUMNS, rows, number)
        self._insert_deltas(number, [*batch_rows(batch), *_run_rows(batch, self.clock())])

    def _claim(self) -> int:
        """The number of the run's next insert (or pair of inserts): its own,
        even when the one before failed, so that its token is its own too."""
        self._batch += 1
        return self._batch

    def _insert_deltas(self, number: int, rows: Iterable[Row]) -> None:
        data = [[self.share, self.run_id, number, r.kind, r.k1, r.k2, r.n] for r in rows]
        self._insert("deltas", COLUMNS, data, number)

    def take_windows(self) -> tuple[WindowSnapshot, int]:
        """The windows the share's previous run saved at its graceful end."""
        rows = self._query(
            "SELECT k1, k2 FROM deltas WHERE share = {share:String} AND run = {run:UInt32}"
            " AND kind = 'window'",
            share=self.share,
            run=self.run_id - 1,
        )
        return {user: orjson.loads(times) for user, times in rows}, 0

    def load_voices(self) -> tuple[Blocks, list[int]]:
        """The word chart's memory: each block's end (a later block of a voice
        always ends later, but for a stray's, which stops nothing), within
        the ends the share's latest batch kept, and the recent post times it
        saved: what SQLite's word_voices and ingest_state hold."""
        ((kept,),) = self._query(
            "SELECT argMax(k2, (run, batch)) FROM deltas WHERE kind = 'kept' AND share = {share:String}",
            share=self.share,
        )
        low, high = orjson.loads(kept) if kept else (-(2**63), 2**63 - 1)
        blocks: Blocks = dict(
            self._query(
                "SELECT toInt64(k1), max(n) AS until FROM deltas WHERE kind = 'voice' GROUP BY k1"
                " HAVING until BETWEEN {low:Int64} AND {high:Int64}",
                low=low,
                high=high,
            )
        )
        ((recent,),) = self._query(
            "SELECT argMax(k2, (run, batch)) FROM deltas WHERE kind = 'recent' AND share = {share:String}",
            share=self.share,
        )
        return blocks, orjson.loads(recent) if recent else []

    def _insert(self, table: str, columns: list[str], data: list[list[object]], number: int) -> None:
        """One insert of batch `number`: one part while it holds fewer rows
        than the server gathers into one block (min_insert_block_size_rows,
        a million), which a batch does by far. Sent again with the same
        token, it counts once (deduplication is per table)."""
        try:
            self.client.insert(
                table,
                data,
                column_names=columns,
                settings={"insert_deduplication_token": f"{self._tokens}/{number}"},
            )
        except Exception as exc:
            msg = f"cannot write {self.path}: {_first_line(exc)}"
            raise StoreError(msg) from exc

    def _query(self, sql: str, **parameters: object) -> list[tuple[Any, ...]]:
        try:
            return result(self.client, sql, **parameters)
        except StoreError as exc:
            msg = f"cannot read {self.path}: {exc}"
            raise StoreError(msg) from exc

    def _command(self, sql: str, **parameters: object) -> None:
        try:
            self.client.command(sql, parameters=parameters)
        except Exception as exc:
            msg = f"cannot write {self.path}: {_first_line(exc)}"
            raise StoreError(msg) from exc


def _first_line(exc: BaseException) -> str:
    # A server's message runs on into a stack trace.
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def has_data(client: Client) -> bool:
    """Whether a handle-stream ever wrote to this database."""
    ((found,),) = result(client, "EXISTS TABLE deltas")
    return bool(found)


def read_metrics(client: Client) -> dict[str, tuple[tuple[str, ...], list[tuple[object, ...]]]]:
    """The four metrics, by the file names of export.METRICS: header and rows,
    as the views of schema.sql that the files are named for give them."""
    by_view = {
        "metric_likes_per_minute": (("time", "likes"), _likes_per_minute(client)),
        "metric_fast_likers": (
            ("user_id", "likes"),
            result(
                client,
                "SELECT k1, max(n) AS likes FROM deltas WHERE kind = 'fast' GROUP BY k1"
                " ORDER BY likes DESC, k1",
            ),
        ),
        "metric_top_words": (("word", "authors"), _top_words(client)),
        "metric_posts_per_language": (
            ("lang", "posts"),
            result(
                client,
                "SELECT k1, sum(n) AS posts FROM deltas WHERE kind = 'lang' GROUP BY k1"
                " ORDER BY posts DESC, k1 LIMIT 25",
            ),
        ),
    }
    return {name: by_view[view] for name, view in METRICS.items()}


def result(client: Client, sql: str, **parameters: object) -> list[tuple[Any, ...]]:
    """The rows of a query. Raises StoreError with the first line of the
    driver's message (the caller names the place)."""
    try:
        return [tuple(row) for row in client.query(sql, parameters=parameters).result_rows]
    except Exception as exc:  # the driver and chdb raise their own kinds
        raise StoreError(_first_line(exc)) from exc


def _top_words(client: Client) -> list[tuple[object, ...]]:
    return result(
        client,
        """
        WITH counts AS (SELECT k1 AS word, sum(n) AS authors FROM deltas WHERE kind = 'word' GROUP BY k1),
             labels AS (
                SELECT word, argMin(form, (-authors, form)) AS label FROM (
                    SELECT k1 AS word, k2 AS form, sum(n) AS authors FROM deltas
                    WHERE kind = 'form' GROUP BY k1, k2
                ) GROUP BY word
             )
        SELECT labels.label AS word, counts.authors AS authors
        FROM counts INNER JOIN labels USING (word)
        ORDER BY authors DESC, word LIMIT 10
        """,
    )


def _likes_per_minute(client: Client) -> list[tuple[object, ...]]:
    """Likes per minute, and a 0 for each minute a run saw no like in,
    between minutes it saw (schema.sql's metric_likes_per_minute)."""
    likes: dict[str, int] = dict(
        result(client, "SELECT k1, sum(n) FROM deltas WHERE kind = 'minute' GROUP BY k1")
    )
    spans = result(
        client,
        """SELECT argMinIf(k2, batch, k1 = 'first_minute'), argMaxIf(k2, batch, k1 = 'last_minute')
           FROM deltas WHERE kind = 'run' AND k1 IN ('first_minute', 'last_minute')
           GROUP BY share, run""",
    )
    minutes = set(likes)
    for first, last in spans:
        if not first or last < first:
            continue
        seen = sorted({first, last, *(m for m in likes if first <= m <= last)})
        for a, b in zip(seen, seen[1:], strict=False):
            start, end = _micros(a), _micros(b)
            if _FILL_FROM <= end - start <= _FILL_TO:
                minutes.update(
                    minute_text(t) for t in range(start + MICROS_PER_MINUTE, end, MICROS_PER_MINUTE)
                )
        minutes.update(seen)
    return [(f"{m}:00", likes.get(m, 0)) for m in sorted(minutes)]


def _micros(minute: str) -> int:
    return micros(datetime.fromisoformat(minute))
