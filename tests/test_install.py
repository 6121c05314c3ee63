"""The wheel is a working install: both commands, schema.sql and word lists inside."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

from tests.helpers import ROOT, SAMPLE


def test_the_wheel_installs_both_commands(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is what `make test` runs under"
    # No network: the wheel alone is installed, and the locked dependencies
    # come from the project's own environment (`make test` installed them),
    # seen through a .pth file.
    offline = [uv, "--offline", "--quiet"]
    subprocess.run([*offline, "build", "--wheel", "-o", tmp_path / "dist", ROOT], check=True)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([*offline, "venv", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*offline, "pip", "install", "--no-deps", "--python", python, wheel], check=True)
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "locked-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    # Far from the checkout, so nothing can be read from it by accident.
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run(
        [python, "-c", "import blueskypipe; print(blueskypipe.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(site), "the wheel's package, not the checkout's"
    lines = SAMPLE.read_bytes() + b'{"timestamp": "2025-03-16T13:28:00", "action": "create", "path": '
    lines += (
        b'"app.bsky.feed.post/3k", "repo": "did:plc:x", "record": {"text": "Engineers and engineering"}}\n'
    )
    subprocess.run([venv / "bin" / "handle-stream"], input=lines, cwd=work, check=True, capture_output=True)
    status = subprocess.run([venv / "bin" / "periodic"], cwd=work, check=True, capture_output=True)
    assert b"bluesky.db: last event 2025-03-16T13:28:00" in status.stdout
    likes = (work / "metrics" / "likes-per-minutes.csv").read_text()
    # 13:28 had a post and no like: a minute of the run with 0 likes.
    assert likes == "time,likes\n2025-03-16 13:26:00,205\n2025-03-16 13:27:00,62\n2025-03-16 13:28:00,0\n"
    assert (work / "metrics" / "top-10-word.csv").read_text() == "word,authors\nengineers,1\n"
