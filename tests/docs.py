"""What the docs tests and `make docs` share: the pages, their runnable code
blocks, their links and headings, and the options tables generated from the
argument parsers.

`python -m tests.docs` (what `make docs` runs) rewrites every generated
options table in the pages from the parsers.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from blueskypipe.cli import handle_stream_options, periodic_options, simulate_parser
from tests.helpers import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"


def pages() -> list[Path]:
    """README.md and every page of docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


# --- Options tables -------------------------------------------------------

# <!-- options: NAME --> ... <!-- end options -->: the table between the two
# comments is the options of parser NAME, as `make docs` writes it.
GENERATED = re.compile(r"(<!-- options: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end options -->)", re.S)


def parsers() -> dict[str, argparse.ArgumentParser]:
    return {
        "handle-stream": handle_stream_options().parser,
        "periodic": periodic_options().parser,
        "simulate": simulate_parser(),
    }


def options_table(parser: argparse.ArgumentParser) -> str:
    """The long options of `parser` and their help, as `--help` prints it
    (environment variable and default included), as a Markdown table."""
    rows = ["| option | what it does |", "|---|---|"]
    for action in parser._actions:
        flags = [flag for flag in action.option_strings if flag.startswith("--") and flag != "--help"]
        if flags:
            text = (action.help or "").replace("|", "\\|")
            rows.append(f"| {', '.join(f'`{flag}`' for flag in flags)} | {text} |")
    return "\n".join(rows) + "\n"


def generate(text: str) -> str:
    """`text` with each generated options table written anew from its parser."""
    known = parsers()

    def table(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in known:
            msg = f"no parser named {name!r}; known: {', '.join(known)}"
            raise KeyError(msg)
        return match[1] + options_table(known[name]) + match[4]

    return GENERATED.sub(table, text)


def generated_tables(text: str) -> list[str]:
    return [match["name"] for match in GENERATED.finditer(text)]


# --- Runnable code blocks -------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A ```sh block marked runnable: where it is, and its script."""

    page: Path
    line: int
    while_writing: bool
    script: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def commands(self) -> list[str]:
        return [line.strip() for line in self.script.splitlines() if line.strip()]


RUNNABLE = re.compile(
    r"^<!-- runnable(?P<writing> while writing)? -->\n```sh\n(?P<script>.*?)^```", re.M | re.S
)


def runnable_blocks() -> list[Block]:
    found = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for match in RUNNABLE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(page, line, bool(match["writing"]), match["script"]))
    return found


# --- Links and headings ---------------------------------------------------

FENCED = re.compile(r"^```.*?^```", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)


def prose(text: str) -> str:
    """`text` without code: fenced blocks go, inline code spans go."""
    return INLINE_CODE.sub("", FENCED.sub("", text))


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of `page`: lowercased, punctuation
    dropped, spaces as hyphens, a repeated heading numbered from -1."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCED.sub("", page.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(page: Path) -> list[str]:
    return LINK.findall(prose(page.read_text(encoding="utf-8")))


def unresolved(source: Path, target: str) -> str | None:
    """Why the relative link `target` in the file `source` does not resolve; None if it does."""
    path_part, _, anchor = target.partition("#")
    path = (source.parent / path_part).resolve() if path_part else source
    if not path.exists():
        return f"{target}: no such file"
    if not anchor:
        return None
    if path.is_dir() or path.suffix != ".md":
        return f"{target}: an anchor needs a Markdown page"
    if anchor not in anchors(path):
        return f"{target}: no heading with that anchor in {path.relative_to(ROOT)}"
    return None


def is_external(target: str) -> bool:
    return re.match(r"^[a-z][a-z0-9+.-]*:", target) is not None


# --- Files of the repository ----------------------------------------------

SKIPPED_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis"}


def repository_files() -> list[Path]:
    """The files git tracks or would add (not ignored); outside a git checkout,
    every file of the tree but caches and the environment."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        names = [name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = [
            str(path.relative_to(ROOT))
            for path in ROOT.rglob("*")
            if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)
        ]
    return [ROOT / name for name in names if (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    """The file as text; None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def main() -> int:
    for page in pages():
        text = page.read_text(encoding="utf-8")
        new = generate(text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            print(f"rewrote the options tables of {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
