"""Where the data lives, as `--db` names it: a SQLite file (the default), or
ClickHouse, embedded (`chdb:///path/to/dir`) or a server
(`clickhouse://user:password@host:8123/database`).

A DSN's password is for the client only: everything shown to people (a
progress line, the status, an error, --help) shows the place masked.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

SCHEMES = ("chdb", "clickhouse", "clickhouses")
# A password given as a query parameter (?password=...) is masked too.
_PASSWORD_PARAMETER = re.compile(r"((?:^|[?&])password=)[^&]*", re.IGNORECASE)


@dataclass(frozen=True)
class ClickHouse:
    """A ClickHouse database; `str()` masks its password."""

    dsn: str

    def __str__(self) -> str:
        # Read as text, not as a URL: a password holding an unencoded "#",
        # "/" or "?" would make a URL parser miss it, and show it.
        scheme, _, rest = self.dsn.partition("://")
        userinfo, at, host = rest.rpartition("@")
        if at and ":" in userinfo:
            rest = f"{userinfo.partition(':')[0]}:***@{host}"
        query = _PASSWORD_PARAMETER.sub(r"\1***", rest)
        return f"{scheme}://{query}"

    def __repr__(self) -> str:
        return f"ClickHouse({str(self)!r})"

    @property
    def embedded(self) -> Path | None:
        """The folder of an embedded (chdb) database; None for a server."""
        parts = urllib.parse.urlsplit(self.dsn)
        return Path(parts.path) if parts.scheme == "chdb" else None


Place = Path | ClickHouse


def place(text: str) -> Place:
    """`--db`'s value: a ClickHouse DSN by its scheme, else a SQLite path.
    Raises ValueError for a DSN that names no database."""
    scheme, sep, _ = text.partition("://")
    if not (sep and scheme.lower() in SCHEMES):
        return Path(text)
    found = ClickHouse(text)
    parts = urllib.parse.urlsplit(text)
    if scheme.lower() == "chdb" and (parts.netloc or parts.path in ("", "/")):
        msg = (
            f"an embedded database is a folder, named by its absolute path: chdb:///path/to/dir, not {found}"
        )
        raise ValueError(msg)
    if scheme.lower() != "chdb" and not parts.hostname:
        msg = f"a server DSN names its host: clickhouse://user:password@host:8123/database, not {found}"
        raise ValueError(msg)
    return found
