"""The word tools load once, at start-up, whatever languages the stream declares.

A stream like the real network's: posts that mention engineering in two
dozen declared languages among likes, fed through a real pipe at a steady
rate. Loading a dictionary per language used to stop the ingest loop for
0.3-4.5 s each time a new language came by, and kept every one in memory.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import tracemalloc
from pathlib import Path
from typing import IO

from blueskypipe import words
from tests.helpers import ROOT, PeakRss, Pipeline, committed, did, event, post, query, wait_for

# Languages real posts declare, most with a lemma dictionary in simplemma.
LANGUAGES = (
    "de fr es pt it nl pl ru tr uk sv fi id ca cs da el hu ro sk bg hr lt lv et sl ga eu gl fa".split()
)
RATE = 2000  # lines a second


def stream(languages: list[str], seconds: float) -> list[bytes]:
    """Likes and, every 20th line, a qualifying post in the next language."""
    lines = []
    for i in range(int(RATE * seconds)):
        ts = f"2025-03-16T12:{i // RATE // 60:02d}:{i // RATE % 60:02d}.{i % RATE * 500:06d}"
        if i % 20 == 0:
            lang = languages[i // 20 % len(languages)]
            text = f"Engineering news {i}: bridges, robots and systems"
            lines.append(post(ts, text, [lang], repo=did(10_000 + i)))  # each voice once: one author a post
        else:
            lines.append(event(ts, repo=did(i % 500)))
    return lines


class Run:
    """./handle-stream fed `lines` at RATE once its word tools are ready."""

    def __init__(self, db: Path, lines: list[bytes]) -> None:
        self.db = db
        proc = subprocess.Popen(
            [str(ROOT / "handle-stream"), "--db", str(db), "--flush-interval", "0.2"],
            stdin=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.peak = PeakRss(proc.pid)
        try:
            assert proc.stdin is not None
            # A post that qualifies at start-up may wait for the word tools;
            # once it is committed they are loaded, and no post waits again.
            proc.stdin.write(post("2025-03-16T11:59:59", "Engineering: the first post", ["en"]) + b"\n")
            proc.stdin.flush()
            wait_for(lambda: committed(db, "engineering_posts") == 1)
            self.stalls = self._feed(proc.stdin, lines)
            proc.stdin.close()
            assert proc.wait(timeout=60) == 0
        finally:
            proc.kill()  # a no-op after a clean exit
            proc.wait()

    def _feed(self, stdin: IO[bytes], lines: list[bytes]) -> float:
        """Write lines at RATE; return the longest time the committed lines stood still."""
        feeding = threading.Event()
        feeding.set()
        longest = [0.0]
        watcher = threading.Thread(target=self._watch, args=(feeding, longest), daemon=True)
        watcher.start()
        try:
            started = time.monotonic()
            chunk = RATE // 20
            for i in range(0, len(lines), chunk):
                # A stalled reader fills the pipe and blocks this write; the watcher sees it.
                stdin.write(b"".join(line + b"\n" for line in lines[i : i + chunk]))
                stdin.flush()
                time.sleep(max(0.0, started + (i + chunk) / RATE - time.monotonic()))
        finally:
            feeding.clear()
            watcher.join()
        return longest[0]

    def _watch(self, feeding: threading.Event, longest: list[float]) -> None:
        seen, last_change = committed(self.db), time.monotonic()
        while feeding.is_set():
            now = committed(self.db)
            if now != seen:
                seen, last_change = now, time.monotonic()
            longest[0] = max(longest[0], time.monotonic() - last_change)
            time.sleep(0.01)


def test_word_tools_load_once_and_commits_keep_their_rhythm(tmp_path: Path) -> None:
    lines = stream(LANGUAGES, seconds=1.5)
    run = Run(tmp_path / "bluesky.db", lines)
    # Commits every 0.2 s; a dictionary loaded on the loop stood it still for seconds.
    assert run.stalls < 1.0, f"committed lines stood still for {run.stalls:.1f} s"
    posts = len(lines) // 20
    assert committed(run.db, "engineering_posts") == 1 + posts
    assert query(run.db, "select authors from word_counts where word = 'bridge'") == posts


def test_memory_does_not_grow_with_the_languages_seen(tmp_path: Path) -> None:
    english = Run(tmp_path / "english.db", stream(["en"], seconds=1))
    many = Run(tmp_path / "many.db", stream(LANGUAGES, seconds=1))
    # One dictionary (English) is loaded either way; each further one was 10-50 MB.
    assert many.peak.megabytes() < english.peak.megabytes() + 10


def test_posts_in_many_languages_load_nothing_more() -> None:
    words.tools()  # loaded, as handle-stream does at start-up
    tracemalloc.start()
    try:
        for i, lang in enumerate(LANGUAGES):
            found = words.meaningful_words(f"Engineering {i}: Brücken, robots, systèmes", {lang})
            assert found is not None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A dictionary of another language would be 10-50 MB.
    assert peak < 2_000_000, f"{peak:,} bytes"


def test_word_tools_that_cannot_load_end_the_run_with_one_line(pipeline: Pipeline) -> None:
    broken = pipeline.tmp / "broken"
    broken.mkdir()
    (broken / "stopwordsiso.py").write_text("raise ImportError('broken on purpose')\n")
    lines = [event(f"2025-03-16T12:00:{i % 60:02d}", repo=did(i)) for i in range(300)]
    lines.append(post("2025-03-16T12:01:00", "Engineering needs its word tools", ["en"]))
    result = subprocess.run(
        [str(ROOT / "handle-stream"), "--db", str(pipeline.db)],
        input=b"".join(line + b"\n" for line in lines),
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(broken)},
        timeout=60,
    )
    errors = result.stderr.decode()
    assert result.returncode == 1, errors
    assert "Traceback" not in errors
    assert (
        "error: cannot load the word tools (ImportError: broken on purpose); reinstall with `uv sync`"
        in errors
    )
    assert query(pipeline.db, "select count(*) from runs where end_reason = 'error'") == 1
