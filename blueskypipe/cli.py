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
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from blueskypipe.export import Rows
    from blueskypipe.health import Status

DEFAULT_DB = "bluesky.db"
DEFAULT_METRICS_DIR = "metrics"
# handle-stream's exit status when --idle-exit ended the run (0: end of input
# or a signal; 1: an error; 2: a usage error or another writer).
IDLE_EXIT_STATUS = 3
# periodic's when the database does not exist (a typo in --db, or no run yet).
NO_DATABASE_STATUS = 3


class _EnvOptions:
    """Options that may also come from the environment, checked exactly like the
    flag (as datasette's `envvar=` options are): a bad value is a one-line
    error that names the variable, exit status 2, never a traceback."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser
        self._options: dict[str, tuple[str, Callable[[str], object], object]] = {}

    def add(self, flag: str, env: str, parse: Callable[[str], object], default: object, text: str) -> None:
        """Add `flag`; when it is not given, `env` is read and checked by `parse`.
        Its help is `text`, then where else the value comes from, written here
        so that it cannot drift from what the option does."""
        shown = f"./{default}" if isinstance(default, Path) and not default.is_absolute() else default
        shown = "off" if default is None else shown
        help_text = f"{text} (env {env}; default {shown})"
        action = self.parser.add_argument(flag, type=parse, default=None, help=help_text)
        self._options[action.dest] = (env, parse, default)

    def parse_args(self, argv: list[str] | None) -> argparse.Namespace:
        args = self.parser.parse_args(argv)
        for dest, (env, parse, default) in self._options.items():
            if getattr(args, dest) is None:
                setattr(args, dest, self._from_env(env, parse, default))
        return args

    def _from_env(self, env: str, parse: Callable[[str], object], default: object) -> object:
        raw = os.environ.get(env)
        if raw is None:
            return default
        try:
            return parse(raw)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            self.parser.exit(2, f"{self.parser.prog}: error: {env}={raw!r}: {exc}\n")


def _db_option(options: _EnvOptions) -> None:
    options.add(
        "--db",
        "BLUESKY_DB",
        Path,
        Path(DEFAULT_DB),
        "SQLite database",
    )


Number = TypeVar("Number", int, float)


def _positive(kind: Callable[[str], Number]) -> Callable[[str], Number]:
    """An argparse type: a number of `kind` greater than zero."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            msg = f"not a number: {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
        if value <= 0:
            msg = f"must be greater than 0, not {text}"
            raise argparse.ArgumentTypeError(msg)
        return value

    parse.__name__ = getattr(kind, "__name__", "number")  # argparse names it in errors
    return parse


def _log(message: str) -> None:
    print(f"handle-stream: {message}", file=sys.stderr, flush=True)


def handle_stream_options() -> _EnvOptions:
    options = _EnvOptions(
        argparse.ArgumentParser(
            prog="handle-stream",
            description="Read Bluesky events (JSON lines) from stdin into SQLite rollups.",
        )
    )
    _db_option(options)
    options.add(
        "--retention-minutes",
        "BLUESKY_RETENTION_MINUTES",
        _positive(int),
        60,
        "minutes of likes_by_user_minute to keep",
    )
    options.add(
        "--batch-size",
        "BLUESKY_BATCH_SIZE",
        _positive(int),
        20_000,
        "commit after this many lines at the latest",
    )
    options.add(
        "--idle-exit",
        "BLUESKY_IDLE_EXIT",
        _positive(float),
        None,
        "end the run, with exit status 3, when no input arrives for this many seconds"
        " (a hung firehose client); for a restart loop",
    )
    parser = options.parser
    parser.add_argument(
        "--flush-interval",
        type=_positive(float),
        default=1.0,
        help="commit at least this often, in seconds (default 1)",
    )
    parser.add_argument(
        "--progress-interval",
        type=_positive(float),
        default=10.0,
        help="seconds between progress lines on stderr (default 10)",
    )
    return options


def handle_stream(argv: list[str] | None = None) -> int:
    """Read events from stdin into the database until EOF, SIGINT or SIGTERM."""
    args = handle_stream_options().parse_args(argv)
    if sys.stdin is None:  # started with stdin closed (`<&-`)
        _log("error: stdin is closed: pipe the events in (./bluesky | ./handle-stream)")
        return 2

    try:
        # Imported here so that --help answers at once.
        from blueskypipe.events import MAX_LINE_BYTES
        from blueskypipe.ingest import Ingest, Options
        from blueskypipe.lock import AnotherWriter
        from blueskypipe.source import LineReader
        from blueskypipe.store import StoreError
        from blueskypipe.words import WordToolsError, preload
    except KeyboardInterrupt:
        return 130  # Ctrl-C during start-up: nothing was read yet

    # The word tools load on their own thread (about a second), while the
    # database opens and the first lines arrive; nothing loads after that.
    preload()
    options = Options(
        batch_size=args.batch_size,
        flush_interval=args.flush_interval,
        progress_interval=args.progress_interval,
        retention_minutes=args.retention_minutes,
        idle_exit=args.idle_exit,
    )
    ingest = Ingest(args.db, LineReader(sys.stdin.fileno(), MAX_LINE_BYTES), _log, options)
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
        totals = ingest.run()
    except AnotherWriter as exc:
        _log(f"error: {exc}")
        return 2
    except (StoreError, WordToolsError) as exc:
        _log(f"error: {exc}")
        if ingest.reading:
            _log(f"committed before the error: {ingest.totals.describe()}")
        return 1
    idle = ingest.end_reason == "idle"
    if idle:
        _log(f"no input for {args.idle_exit:g} s (--idle-exit): is the firehose client stalled?")
    _log(f"done in {time.monotonic() - started:.1f} s: {totals.describe()}")
    return IDLE_EXIT_STATUS if idle else 0


def periodic_options() -> _EnvOptions:
    parser = argparse.ArgumentParser(
        prog="periodic", description="Export the metrics of bluesky.db to metrics/*.csv."
    )
    options = _EnvOptions(parser)
    _db_option(options)
    options.add(
        "--metrics-dir",
        "BLUESKY_METRICS_DIR",
        Path,
        Path(DEFAULT_METRICS_DIR),
        "folder of the CSV files",
    )
    return options


def periodic(argv: list[str] | None = None) -> int:
    """Export the metric views to CSV files and print a status for `watch`."""
    args = periodic_options().parse_args(argv)

    from blueskypipe import db, health
    from blueskypipe.export import ExportError, exclusive, write_csvs, write_missing

    try:
        # One export at a time, so that files are replaced in the order
        # their snapshots were read: a slow run cannot put older data back.
        with exclusive(args.metrics_dir):
            if not args.db.exists():
                print(health.no_database(args.db, write_missing(args.metrics_dir)), flush=True)
                return NO_DATABASE_STATUS
            status, rows = _read(args.db)
            write_csvs(args.metrics_dir, rows)
    except (db.ReadError, ExportError) as exc:
        print(f"periodic: error: {exc}", file=sys.stderr)
        return 1
    files = [f"  {args.metrics_dir / name}: {len(file_rows)} rows" for name, file_rows in rows.items()]
    print("\n".join([*health.describe(args.db, status), *files]), flush=True)
    return 0


def _read(path: Path) -> tuple[Status, dict[str, Rows]]:
    """The status and the metric rows of `path`, from one read-only snapshot.
    A copy that SQLite cannot open read-only where it lies (a WAL database in
    a read-only folder) is read as immutable, which is honest only while no
    writer holds it."""
    from blueskypipe import db, health
    from blueskypipe.export import read_metrics
    from blueskypipe.lock import writer_running

    def read(immutable: bool) -> tuple[Status, dict[str, Rows]]:
        with db.snapshot(path, immutable) as conn:
            return health.read(conn, time.time()), read_metrics(conn)

    try:
        return read(immutable=False)
    except db.ReadOnlyCopy:
        if writer_running(path):
            raise
    return read(immutable=True)


def simulate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m blueskypipe simulate",
        description="Print synthetic Bluesky events in the exact format of ./bluesky.",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)")
    parser.add_argument(
        "--rate", type=float, default=1500.0, help="events per second of event time (default 1500)"
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
    parser.add_argument("--count", type=int, help="stop after this many events")
    parser.add_argument("--duration", type=float, help="stop after this many seconds of event time")
    parser.add_argument(
        "--fast-likers", type=int, default=0, help="plant N users who each burst 50-109 likes inside 60 s"
    )
    parser.add_argument(
        "--engineering-share",
        type=float,
        default=0.02,
        help="share of posts that mention engineering (default 0.02)",
    )
    return parser


def simulate(argv: list[str] | None = None) -> int:
    """Write simulated events to stdout until --count/--duration, or forever."""
    args = simulate_parser().parse_args(argv)
    from blueskypipe.simulate import Simulator, write

    sim = Simulator(
        seed=args.seed,
        rate=args.rate,
        start=datetime.now() if args.realtime else args.start,
        fast_likers=args.fast_likers,
        engineering_share=args.engineering_share,
    )
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        write(sim.lines(args.count, args.duration), realtime_rate=args.rate if args.realtime else None)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): a normal way to stop.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
