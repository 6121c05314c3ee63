"""Every option of handle-stream and periodic, each declared once.

An `Option` holds its flag, the environment variable that may stand in for
it, how a value is read and checked, its default and its help. The
argument parsers, the environment and the defaults of the library's entry
points (`ingest.Options`, `store.Store`) all read them from here.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, NoReturn, TypeVar

from blueskypipe.flush import HEARTBEAT_SECONDS, MAX_HELD_BATCHES
from blueskypipe.places import Place, place

T_co = TypeVar("T_co", covariant=True)
Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class Option(Generic[T_co]):
    flag: str
    parse: Callable[[str], T_co]
    default: T_co
    help: str
    env: str | None = None  # a variable read when the flag is not given

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def help_text(self) -> str:
        """The help, then where else the value comes from."""
        default = self.default
        if default is None:
            shown = "off"
        elif default == "":
            shown = "none"
        elif isinstance(default, Path) and not default.is_absolute():
            shown = f"./{default}"
        elif isinstance(default, float):
            shown = f"{default:g}"
        else:
            shown = str(default)
        source = f"env {self.env}; default {shown}" if self.env else f"default {shown}"
        return f"{self.help} ({source})"


def positive(kind: Callable[[str], Number], at_most: float | None = None) -> Callable[[str], Number]:
    """A value parser: a number of `kind` greater than zero (and at most `at_most`)."""
    return number(kind, zero=False, at_most=at_most)


def number(
    kind: Callable[[str], Number], zero: bool, at_most: float | None = None
) -> Callable[[str], Number]:
    """A value parser: a number of `kind` greater than zero, or at least zero
    if `zero`, and at most `at_most`."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            msg = f"not a {'whole ' if kind is int else ''}number: {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
        if isinstance(value, float) and not math.isfinite(value):  # nan passes every comparison below
            msg = f"not a finite number: {text!r}"
            raise argparse.ArgumentTypeError(msg)
        if value < 0 or (value == 0 and not zero):
            msg = f"must be {'0 or more' if zero else 'greater than 0'}, not {text}"
            raise argparse.ArgumentTypeError(msg)
        if at_most is not None and value > at_most:
            msg = f"must be at most {at_most:g}, not {text}"
            raise argparse.ArgumentTypeError(msg)
        return value

    parse.__name__ = getattr(kind, "__name__", "number")  # argparse names it in errors
    return parse


def database(text: str) -> Place:
    """A value parser: where the data lives (places.place)."""
    try:
        return place(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


DB: Option[Place] = Option(
    "--db",
    database,
    Path("bluesky.db"),
    "SQLite database file, or ClickHouse: chdb:///path/to/dir (embedded) or"
    " clickhouse://user:password@host:8123/database (a server; give a password in BLUESKY_DB,"
    " out of the process list)",
    "BLUESKY_DB",
)
METRICS_DIR = Option("--metrics-dir", Path, Path("metrics"), "folder of the CSV files", "BLUESKY_METRICS_DIR")
RETENTION_MINUTES = Option(
    "--retention-minutes",
    positive(int),
    60,
    "minutes of likes_by_user_minute to keep",
    "BLUESKY_RETENTION_MINUTES",
)
BATCH_SIZE = Option(
    "--batch-size",
    positive(int),
    20_000,
    "hand a batch to the writer once it holds this many lines; while the writer is busy"
    f" the batch grows on, and reading pauses at {MAX_HELD_BATCHES} times this",
    "BLUESKY_BATCH_SIZE",
)
IDLE_EXIT: Option[float | None] = Option(
    "--idle-exit",
    positive(float),
    None,
    "end the run, with exit status 3, when no input arrives for this many seconds"
    " (a hung firehose client); for a restart loop",
    "BLUESKY_IDLE_EXIT",
)
FLUSH_INTERVAL = Option(
    "--flush-interval",
    # The heartbeat's bound: periodic's staleness rule counts on a commit that often.
    positive(float, at_most=HEARTBEAT_SECONDS),
    1.0,
    f"commit at least this often, in seconds (at most {HEARTBEAT_SECONDS:g})",
)
SHARE = Option(
    "--share",
    str,
    "",
    "on ClickHouse, the name of this writer's part of the stream (the users of one partition"
    " of a log keyed by DID), so that several writers' runs do not collide",
    "BLUESKY_SHARE",
)
KEEP_EVENTS_DAYS = Option(
    "--keep-events-days",
    number(int, zero=True, at_most=36_500),
    7,
    "on ClickHouse, days to keep every valid event in the events table, for questions over"
    " history (0: keep none)",
    "BLUESKY_KEEP_EVENTS_DAYS",
)
PROGRESS_INTERVAL = Option(
    "--progress-interval", positive(float), 10.0, "seconds between progress lines on stderr"
)

HANDLE_STREAM: tuple[Option[object], ...] = (
    DB,
    RETENTION_MINUTES,
    BATCH_SIZE,
    IDLE_EXIT,
    FLUSH_INTERVAL,
    PROGRESS_INTERVAL,
    SHARE,
    KEEP_EVENTS_DAYS,
)
PERIODIC: tuple[Option[object], ...] = (DB, METRICS_DIR)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, as the
    environment's are: the full usage is what --help is for."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class OptionParser:
    """An argument parser for `options`. A variable is checked exactly like
    its flag (as datasette's `envvar=` options are): a bad value is a
    one-line error that names the variable, exit status 2, never a
    traceback. An empty variable counts as unset."""

    def __init__(self, prog: str, description: str, options: Sequence[Option[object]]) -> None:
        self.parser = parser = OneLineParser(prog=prog, description=description)
        self.options = options
        for option in options:
            parser.add_argument(option.flag, type=option.parse, default=None, help=option.help_text())

    def parse_args(self, argv: list[str] | None) -> argparse.Namespace:
        args = self.parser.parse_args(argv)
        for option in self.options:
            if getattr(args, option.dest) is None:
                setattr(args, option.dest, self._from_env(option))
        return args

    def _from_env(self, option: Option[object]) -> object:
        raw = os.environ.get(option.env) if option.env else None
        if not raw:
            return option.default
        try:
            return option.parse(raw)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            self.parser.exit(2, f"{self.parser.prog}: error: {option.env}={raw!r}: {exc}\n")
