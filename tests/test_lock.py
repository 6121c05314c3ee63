"""One handle-stream per database: a second one refuses and writes nothing."""

from __future__ import annotations

import signal
import sqlite3
import subprocess

from tests.helpers import ROOT, Pipeline, event, query, wait_for


def runs(pipeline: Pipeline) -> list[tuple[object, ...]]:
    with sqlite3.connect(pipeline.db) as conn:
        return conn.execute("select run_id, started_at, end_reason from runs order by run_id").fetchall()


def second_writer(pipeline: Pipeline, lines: list[bytes]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "handle-stream"), "--db", str(pipeline.db)],
        input=b"".join(line + b"\n" for line in lines),
        capture_output=True,
        timeout=30,
    )


def test_a_second_writer_refuses_and_names_the_running_one(pipeline: Pipeline) -> None:
    first = pipeline.running([event("2025-03-16T12:00:00")])
    try:
        before = runs(pipeline)
        counts = query(pipeline.db, "select n from ingest_counts where name = 'lines'")
        result = second_writer(pipeline, [event("2025-03-16T12:00:01")])
        assert result.returncode == 2
        [(run_id, started_at, end_reason)] = before
        assert result.stderr.decode() == (
            f"handle-stream: error: another handle-stream is writing to {pipeline.db}"
            f" (run {run_id}, pid {first.pid}, started {started_at}); stop it first, or give this one"
            " another --db\n"
        )
        # Nothing written: no run of its own, the first not marked killed, no lines.
        assert runs(pipeline) == before and end_reason is None
        assert query(pipeline.db, "select n from ingest_counts where name = 'lines'") == counts
        # Readers are never held up by the guard.
        pipeline.periodic()
        assert pipeline.csv("likes-per-minutes.csv")[1:] == [["2025-03-16 12:00:00", "1"]]
    finally:
        first.kill()
        first.wait()


def test_the_guard_dies_with_its_owner(pipeline: Pipeline) -> None:
    first = pipeline.running([event("2025-03-16T12:00:00")])
    first.send_signal(signal.SIGKILL)
    first.wait()
    result = second_writer(pipeline, [event("2025-03-16T12:00:01")])
    assert result.returncode == 0, result.stderr.decode()
    assert [reason for _, _, reason in runs(pipeline)] == ["killed", "end of input"]
    wait_for(lambda: query(pipeline.db, "select sum(likes) from likes_by_minute") == 2)


def test_one_writer_after_another_is_fine(pipeline: Pipeline) -> None:
    pipeline.ingest([event("2025-03-16T12:00:00")])
    pipeline.ingest([event("2025-03-16T12:00:01")])
    assert [reason for _, _, reason in runs(pipeline)] == ["end of input", "end of input"]
