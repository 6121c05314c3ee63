"""The wheel is a working install: both commands, schema.sql and word lists inside."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.helpers import ROOT, SAMPLE


def test_the_wheel_installs_both_commands(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is what `make test` runs under"
    subprocess.run([uv, "build", "--wheel", "--quiet", "-o", tmp_path / "dist", ROOT], check=True)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", venv], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel], check=True)

    # Far from the checkout, so nothing can be read from it by accident.
    work = tmp_path / "elsewhere"
    work.mkdir()
    lines = SAMPLE.read_bytes() + b'{"timestamp": "2025-03-16T13:28:00", "action": "create", "path": '
    lines += (
        b'"app.bsky.feed.post/3k", "repo": "did:plc:x", "record": {"text": "Engineers and engineering"}}\n'
    )
    subprocess.run([venv / "bin" / "handle-stream"], input=lines, cwd=work, check=True, capture_output=True)
    status = subprocess.run([venv / "bin" / "periodic"], cwd=work, check=True, capture_output=True)
    assert b"bluesky.db: last event 2025-03-16T13:28:00" in status.stdout
    likes = (work / "metrics" / "likes-per-minutes.csv").read_text()
    assert likes == "time,likes\n2025-03-16 13:26:00,205\n2025-03-16 13:27:00,62\n"
    assert (work / "metrics" / "top-10-word.csv").read_text() == "word,posts\nengineers,1\n"
