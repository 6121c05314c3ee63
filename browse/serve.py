"""`make browse`: Datasette on a pipeline database, read-only, with this
project's titles, column notes and canned queries, whatever the file is called.

Datasette names a database after its file (`other.db` is `other`) and applies
the metadata written under that name. `metadata.yml` is written for
`bluesky.db`, so this hands Datasette a copy that puts the same entry under
the name of the file served. The copy goes through a pipe (/dev/fd/N), so no
file is left behind, and Datasette replaces this process, so Ctrl-C and
SIGTERM reach it directly.

    python browse/serve.py DB [more `datasette serve` options, e.g. --port 8001]
"""

from __future__ import annotations

import json
import os
import sys
from html import escape
from pathlib import Path
from typing import Any

import yaml
from datasette.utils import tilde_encode

METADATA = Path(__file__).with_name("metadata.yml")
PLUGINS = Path(__file__).with_name("plugins")
# The database name metadata.yml is written for.
WRITTEN_FOR = "bluesky"
# Served on this machine only; the biggest metric (likes per minute: 1,440
# rows a day) shown whole rather than cut at Datasette's default of 1,000.
OPTIONS = ["--host", "127.0.0.1", "--setting", "max_returned_rows", "10000", "--plugins-dir", str(PLUGINS)]


def metadata_for(db: Path) -> dict[str, Any]:
    """metadata.yml with its database entry under the name Datasette gives `db`,
    and a front page that lists every metric and the tables that matter."""
    metadata: dict[str, Any] = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    databases = metadata["databases"]
    databases[db.stem] = database = databases.pop(WRITTEN_FOR)
    metadata["description_html"] = front_page(db.stem, metadata["description"], database)
    return metadata


def front_page(name: str, description: str, database: dict[str, Any]) -> str:
    """The index's text: the description, then a link and one line for each
    metric (a canned query) and each table not hidden, as metadata.yml titles them."""
    base = f"/{tilde_encode(name)}"

    def item(path: str, title: str, line: str) -> str:
        return f'<li><a href="{base}/{tilde_encode(path)}">{escape(title)}</a>: {escape(line)}</li>'

    metrics = [item(key, q["title"], q["description"]) for key, q in database["queries"].items()]
    tables = [
        item(key, key, t["title"]) for key, t in database["tables"].items() if not t.get("hidden", False)
    ]
    return (
        f"<p>{escape(description)}</p>"
        f"<h2>Metrics</h2><ul>{''.join(metrics)}</ul>"
        f"<h2>Tables and views</h2><ul>{''.join(tables)}</ul>"
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    db = Path(argv[0])
    if not db.is_file():
        print(
            f"browse: no database at {db}: start ./handle-stream first, or name one with DB=", file=sys.stderr
        )
        return 1
    data = json.dumps(metadata_for(db)).encode()
    read_end, write_end = os.pipe()
    # The whole copy fits in the pipe's buffer (64 KiB), so this does not wait for a reader.
    os.write(write_end, data)
    os.close(write_end)
    os.set_inheritable(read_end, True)
    command = [sys.executable, "-m", "datasette", "serve", str(db), "--metadata", f"/dev/fd/{read_end}"]
    os.execv(sys.executable, [*command, *OPTIONS, *argv[1:]])
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
