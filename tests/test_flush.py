"""The flush policy alone: plain numbers for the time, no clock, no I/O."""

from __future__ import annotations

from blueskypipe.flush import (
    DRAIN_QUIET_SECONDS,
    FINAL_WRITE_PATIENCE,
    HEARTBEAT_SECONDS,
    MAX_HELD_BATCHES,
    MAX_HELD_RAW_LINES,
    FlushPolicy,
    Step,
)
from blueskypipe.records import EndReason


def policy(now: float = 0.0) -> FlushPolicy:
    return FlushPolicy(now, batch_size=100, interval=1.0, drain_seconds=3.0)


def test_a_full_batch_is_handed_over_at_once() -> None:
    p = policy()
    assert p.next_step(0.1, lines=99, busy=False) is Step.READ
    assert p.next_step(0.1, lines=100, busy=False) is Step.HAND_OVER


def test_a_batch_with_lines_is_handed_over_once_the_interval_has_passed() -> None:
    p = policy()
    assert p.next_step(0.9, lines=1, busy=False) is Step.READ
    assert p.next_step(1.0, lines=1, busy=False) is Step.HAND_OVER
    p.handed_over(1.0)
    assert p.next_step(1.5, lines=1, busy=False) is Step.READ
    assert p.next_step(2.0, lines=1, busy=False) is Step.HAND_OVER


def test_a_quiet_stream_commits_an_empty_batch_as_a_heartbeat() -> None:
    p = policy()
    for second in range(1, int(HEARTBEAT_SECONDS)):
        assert p.next_step(float(second), lines=0, busy=False) is Step.READ
    assert p.next_step(HEARTBEAT_SECONDS, lines=0, busy=False) is Step.HAND_OVER
    p.handed_over(HEARTBEAT_SECONDS)
    assert p.next_step(HEARTBEAT_SECONDS + 1, lines=0, busy=False) is Step.READ


def test_a_busy_writer_lets_the_batch_grow_up_to_max_held_batches() -> None:
    p = policy()
    limit = 100 * MAX_HELD_BATCHES
    assert p.next_step(5.0, lines=limit - 1, busy=True) is Step.READ
    assert p.next_step(5.0, lines=limit, busy=True) is Step.WAIT
    assert p.next_step(5.0, lines=limit, busy=False) is Step.HAND_OVER


def test_batches_that_keep_raw_lines_hold_fewer_while_the_writer_is_busy() -> None:
    big = FlushPolicy(0.0, batch_size=20_000, interval=1.0, drain_seconds=3.0)
    big.hold_raw_lines()
    assert big.next_step(0.5, lines=MAX_HELD_RAW_LINES - 1, busy=True) is Step.READ
    assert big.next_step(0.5, lines=MAX_HELD_RAW_LINES, busy=True) is Step.WAIT
    # Never fewer than one batch, nor more than the rule for all batches.
    huge = FlushPolicy(0.0, batch_size=3 * MAX_HELD_RAW_LINES, interval=1.0, drain_seconds=3.0)
    huge.hold_raw_lines()
    assert huge.next_step(0.5, lines=3 * MAX_HELD_RAW_LINES - 1, busy=True) is Step.READ
    assert huge.next_step(0.5, lines=3 * MAX_HELD_RAW_LINES, busy=True) is Step.WAIT
    small = policy()
    small.hold_raw_lines()
    assert small.next_step(5.0, lines=100 * MAX_HELD_BATCHES, busy=True) is Step.WAIT


def test_a_stop_drains_until_the_pipe_is_quiet_or_the_drain_time_is_up() -> None:
    p = policy()
    p.request_stop(10.0)
    assert p.stop_requested
    assert p.read_timeout(10.0, wake_at=99.0, lines=5) == DRAIN_QUIET_SECONDS
    assert p.stop_reason(10.5, lines=5, busy=True, quiet=False, eof=False) is None
    assert p.stop_reason(10.5, lines=5, busy=True, quiet=True, eof=False) is EndReason.SIGNAL
    p = policy()
    p.request_stop(10.0)
    assert p.stop_reason(12.9, lines=5, busy=True, quiet=False, eof=False) is None
    assert p.stop_reason(13.0, lines=5, busy=True, quiet=False, eof=False) is EndReason.SIGNAL


def test_a_second_stop_request_stops_at_once() -> None:
    p = policy()
    p.request_stop(10.0)
    p.request_stop(10.5)
    assert p.stop_reason(10.5, lines=5, busy=True, quiet=False, eof=False) is EndReason.SIGNAL


def test_a_stop_under_back_pressure_does_not_wait_for_the_writer() -> None:
    p = policy()
    p.request_stop(10.0)
    assert (
        p.stop_reason(10.1, lines=100 * MAX_HELD_BATCHES, busy=True, quiet=False, eof=False)
        is EndReason.SIGNAL
    )


def test_the_end_of_input_ends_the_run_and_a_signal_is_its_cause_if_one_came() -> None:
    p = policy()
    assert p.stop_reason(5.0, lines=0, busy=False, quiet=False, eof=True) is EndReason.END_OF_INPUT
    # A Ctrl-C in a shell reaches the producer too, so its pipe ends as well.
    p.request_stop(5.0)
    assert p.stop_reason(5.0, lines=0, busy=False, quiet=False, eof=True) is EndReason.SIGNAL


def test_the_last_writes_get_final_write_patience_from_the_stop() -> None:
    p = policy()
    assert not p.give_up(1_000.0), "no giving up before the run stops"
    p.stopped(20.0)
    assert not p.give_up(20.0 + FINAL_WRITE_PATIENCE - 0.01)
    assert p.give_up(20.0 + FINAL_WRITE_PATIENCE)


def test_questions_change_nothing() -> None:
    p, q = policy(), policy()
    for now in (0.5, 1.0, 3.0, HEARTBEAT_SECONDS, 99.0):
        p.next_step(now, lines=10, busy=False)
        p.stop_reason(now, lines=10, busy=False, quiet=True, eof=False)
        p.read_timeout(now, wake_at=now + 1, lines=10)
    assert vars(p) == vars(q)


def test_reads_wake_for_the_next_flush_or_the_callers_deadline() -> None:
    p = policy(now=100.0)
    assert p.read_timeout(100.25, wake_at=200.0, lines=1) == 0.75
    assert p.read_timeout(100.25, wake_at=100.5, lines=1) == 0.25
    # A flush already due (the writer is busy): poll, do not spin.
    assert 0 < p.read_timeout(105.0, wake_at=200.0, lines=1) < 0.1
    # An empty batch is not due before the heartbeat: an idle pipe is not
    # polled, only looked at every interval.
    assert p.read_timeout(105.0, wake_at=200.0, lines=0) == 1.0
    assert p.read_timeout(114.5, wake_at=200.0, lines=0) == HEARTBEAT_SECONDS - 14.5


def test_no_input_for_idle_exit_seconds_stops_the_run() -> None:
    p = FlushPolicy(0.0, batch_size=100, interval=1.0, drain_seconds=3.0, idle_exit=5.0)
    p.heard(3.0)
    assert p.stop_reason(7.9, lines=0, busy=False, quiet=True, eof=False) is None
    assert p.stop_reason(8.0, lines=0, busy=False, quiet=True, eof=False) is EndReason.IDLE
    assert not p.stop_requested


def test_without_idle_exit_a_quiet_pipe_never_stops_the_run() -> None:
    p = policy()
    assert p.stop_reason(1e9, lines=0, busy=False, quiet=True, eof=False) is None
