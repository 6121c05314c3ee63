"""Command-line entry points: `handle-stream`, `periodic` and `python -m blueskypipe simulate`.

The only place that parses argv, prints, handles signals and exits. The
launchers ./handle-stream and ./periodic run `python -m blueskypipe COMMAND`.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from blueskypipe import options
from blueskypipe.options import OneLineParser, OptionParser, number, positive
from blueskypipe.places import ClickHouse
from blueskypipe.wording import counted

if TYPE_CHECKING:
    from blueskypipe.export import Table
    from blueskypipe.health import Status

# handle-stream's exit status when --idle-exit ended the run (0: end of input
# or a signal; 1: an error; 2: a usage error or another writer).
IDLE_EXIT_STATUS = 3
# periodic's when the database does not exist (a typo in --db, or no run yet).
NO_DATABASE_STATUS = 3


def _log(message: str) -> None:
    print(f"handle-stream: {message}", file=sys.stderr, flush=True)


def handle_stream_options() -> OptionParser:
    return OptionParser(
        "handle-stream",
        "Read Bluesky events (JSON lines) from stdin into SQLite rollups.",
        options.HANDLE_STREAM,
    )


def handle_stream(argv: list[str] | None = None) -> int:
    """Read events from stdin into the database until EOF, SIGINT or SIGTERM."""
    args = handle_stream_options().parse_args(argv)
    if sys.stdin is None:  # started with stdin closed (`<&-`)
        _log("error: stdin is closed: pipe the events in (./bluesky | ./handle-stream)")
        return 2

    if isinstance(args.db, Path) and "numpy" not in sys.modules:
        # nltk imports numpy whenever it is installed (the clickhouse extra
        # brings it), for modules the word tools never use: a tenth of a
        # second of start-up and 10 MB. Nothing on the SQLite path needs it.
        sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        # Imported here so that --help answers at once.
        from blueskypipe.errors import AnotherWriter
        from blueskypipe.events import MAX_LINE_BYTES
        from blueskypipe.ingest import Ingest, Options, RunFailed
        from blueskypipe.records import EndReason
        from blueskypipe.source import SETTLE_SECONDS, LineReader
        from blueskypipe.words import preload
    except KeyboardInterrupt:
        return 130  # Ctrl-C during start-up: nothing was read yet

    # The word tools load on their own thread (about a second), while the
    # database opens and the first lines arrive; nothing loads after that.
    preload()
    settings = Options(
        batch_size=args.batch_size,
        flush_interval=args.flush_interval,
        progress_interval=args.progress_interval,
        retention_minutes=args.retention_minutes,
        idle_exit=args.idle_exit,
        share=args.share,
        keep_events_days=args.keep_events_days,
    )
    reader = LineReader(sys.stdin.fileno(), MAX_LINE_BYTES, settle=SETTLE_SECONDS)
    ingest = Ingest(args.db, reader, _log, settings)
    # Every event allocates a few containers; the default thresholds would run
    # the cyclic GC over the long-lived window state many times a second.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: ingest.request_stop())
    # Past a file-size limit the kernel would kill us outright; ignored, the
    # write fails instead, SQLite rolls back, and we exit with a clear error.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    started = time.monotonic()
    try:
        result = ingest.run()
    except AnotherWriter as exc:
        _log(f"error: {exc}")
        return 2
    except RunFailed as exc:
        _log(f"error: {exc}")
        if exc.committed is not None:
            _log(f"committed before the error: {exc.committed.describe()}")
        return 1
    if result.end_reason is EndReason.END_OF_INPUT and result.totals.lines == 0:
        return 0  # "no input came" said it all
    idle = result.end_reason is EndReason.IDLE
    if idle:
        _log(f"no input for {args.idle_exit:g} s (--idle-exit): is the firehose client stalled?")
    _log(f"done in {time.monotonic() - started:.1f} s: {result.totals.describe()}")
    return IDLE_EXIT_STATUS if idle else 0


def periodic_options() -> OptionParser:
    return OptionParser("periodic", "Export the metrics of bluesky.db to metrics/*.csv.", options.PERIODIC)


def periodic(argv: list[str] | None = None) -> int:
    """Export the metric views to CSV files and print a status for `watch`.
    The status is printed whether or not the files could be written."""
    args = periodic_options().parse_args(argv)

    from blueskypipe import db, health
    from blueskypipe.export import ExportError, exclusive, write_csvs, write_missing

    if isinstance(args.db, ClickHouse):
        return _periodic_clickhouse(args.db, args.metrics_dir)
    if not args.db.exists():
        try:
            with exclusive(args.metrics_dir):
                print(health.no_database(args.db, write_missing(args.metrics_dir)), flush=True)
        except ExportError as exc:
            print(health.no_database(args.db, []), flush=True)
            print(f"periodic: error: {exc}", file=sys.stderr)
        return NO_DATABASE_STATUS
    read: tuple[Status, dict[str, Table]] | None = None
    failed: ExportError | None = None
    try:
        try:
            # One export at a time, so that files are replaced in the order
            # their snapshots were read: a slow run cannot put older data back.
            with exclusive(args.metrics_dir):
                read = _read(args.db)
                write_csvs(args.metrics_dir, read[1])
        except ExportError as exc:
            failed = exc
            read = read or _read(args.db)  # the folder cannot even be locked: nothing to order
    except db.ReadError as exc:
        print(f"periodic: error: {exc}", file=sys.stderr)
        return 1
    status, tables = read
    lines = health.describe(args.db, status)
    if failed is None:
        lines += [f"  {args.metrics_dir / name}: {counted(len(t.rows), 'row')}" for name, t in tables.items()]
    print("\n".join(lines), flush=True)
    if failed is not None:
        print(f"periodic: error: {failed}", file=sys.stderr)
        return 1
    return 0


def _periodic_clickhouse(place: ClickHouse, metrics_dir: Path) -> int:
    """periodic on ClickHouse: the same four files, and the status of each share."""
    from blueskypipe import clickhouse_status, health
    from blueskypipe.clickhouse import connect, has_data, read_metrics
    from blueskypipe.errors import StoreError
    from blueskypipe.export import ExportError, Table, exclusive, write_csvs, write_missing
    from blueskypipe.lock import writer_running

    if place.embedded is not None and writer_running(place.embedded):
        print(
            f"periodic: error: {place} is open in handle-stream, and an embedded database allows one"
            " process at a time: run periodic after it, or use a ClickHouse server",
            file=sys.stderr,
        )
        return 1
    try:
        client = connect(place)
    except StoreError as exc:
        print(f"periodic: error: {exc}", file=sys.stderr)
        return 1
    try:
        if not has_data(client):  # no handle-stream wrote there yet
            with exclusive(metrics_dir):
                print(health.no_database(place, write_missing(metrics_dir)), flush=True)
            return NO_DATABASE_STATUS
        tables = {name: Table(*table) for name, table in read_metrics(client).items()}
        # An embedded database is open in no writer now (refused above).
        writer_alive = False if place.embedded is not None else None
        now = time.time()
        shares = clickhouse_status.shares(client) or [""]
        lines = []
        for share in shares:
            title = f"{place}" if shares == [""] else f"{place} share {share or '(unnamed)'}"
            lines += health.describe(title, clickhouse_status.read(client, share, now, writer_alive))
    except (StoreError, ExportError) as exc:
        print(f"periodic: error: cannot read {place}: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    try:
        with exclusive(metrics_dir):
            write_csvs(metrics_dir, tables)
    except ExportError as exc:
        print("\n".join(lines), flush=True)
        print(f"periodic: error: {exc}", file=sys.stderr)
        return 1
    lines += [f"  {metrics_dir / name}: {counted(len(t.rows), 'row')}" for name, t in tables.items()]
    print("\n".join(lines), flush=True)
    return 0


def _read(path: Path) -> tuple[Status, dict[str, Table]]:
    """The status and the metric rows of `path`, from one read-only snapshot.
    A copy that SQLite cannot open read-only where it lies (a WAL database in
    a read-only folder) is read as immutable, which is honest only while no
    writer holds it."""
    from blueskypipe import db, health
    from blueskypipe.export import read_metrics
    from blueskypipe.lock import writer_running

    def read(immutable: bool) -> tuple[Status, dict[str, Table]]:
        # The lock is asked before and after the snapshot: a writer that
        # started or stopped meanwhile was alive while it was read.
        before = writer_running(path)
        with db.snapshot(path, immutable) as conn:
            status, tables = health.read(conn, time.time()), read_metrics(conn)
        probes = (before, writer_running(path))
        status.writer_alive = True if True in probes else None if None in probes else False
        return status, tables

    try:
        return read(immutable=False)
    except db.ReadOnlyCopy:
        if writer_running(path) is not False:  # immutable is honest only without a writer
            raise
    return read(immutable=True)


def simulate_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="./scripts/launch simulate",
        description="Print synthetic Bluesky events in the exact format of ./bluesky.",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)")
    parser.add_argument(
        "--rate", type=positive(float), default=1500.0, help="events per second of event time (default 1500)"
    )
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="pace output to the wall clock, timestamps = now (default: as fast as possible)",
    )
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=datetime(2025, 3, 16, 13, 0, 0),
        help="first synthetic timestamp when not --realtime (default 2025-03-16T13:00:00)",
    )
    parser.add_argument("--count", type=positive(int), help="stop after this many events")
    parser.add_argument("--duration", type=positive(float), help="stop after this many seconds of event time")
    parser.add_argument(
        "--fast-likers",
        type=number(int, zero=True),
        default=None,
        help="plant N fast likers: a new user every 7 s of event time bursts 50-109 likes inside 60 s;"
        " 0 plants none (default: a new one every 7 s for as long as it runs)",
    )
    parser.add_argument(
        "--engineering-share",
        type=number(float, zero=True, at_most=1),
        default=0.02,
        help="share of posts that mention engineering (default 0.02)",
    )
    return parser


def simulate(argv: list[str] | None = None) -> int:
    """Write simulated events to stdout until --count/--duration, or forever."""
    args = simulate_parser().parse_args(argv)
    from blueskypipe.simulate import Simulator, write, write_live

    sim = Simulator(
        seed=args.seed,
        rate=args.rate,
        start=args.start,
        fast_likers=args.fast_likers,
        engineering_share=args.engineering_share,
    )
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        if args.realtime:
            # Stamped from now, once the simulator is ready: each line's time
            # is the wall clock's when it is written.
            write_live(sim.timed_lines(args.count, args.duration, start=datetime.now()))
        else:
            write(sim.lines(args.count, args.duration))
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): a normal way to stop.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
