"""The exact sliding window behind fast likers (docs/metrics.md#fast-likers)."""

from __future__ import annotations

from array import array
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from blueskypipe import times
from blueskypipe.windows import (
    CLOCK_SAMPLE,
    HORIZON_MICROS,
    ROTATE_MICROS,
    SPAN_MICROS,
    LikeWindows,
    StreamClock,
)

S = 1_000_000  # one second in microseconds


def micros(timestamp: str) -> int:
    return times.micros(datetime.fromisoformat(timestamp))


def at(clock_time: str) -> int:
    """A time of 2025-03-16, in microseconds."""
    return micros(f"2025-03-16T{clock_time}")


def peak(times: list[int]) -> int:
    """Highest window count reported while feeding `times` for one user."""
    windows = LikeWindows()
    best = 0
    for t in times:
        found = windows.add("u", t)
        if found is not None:
            best = max(best, found.likes)
    return best


def brute_force(times: list[int]) -> int:
    """max over i of #{j : t[i] <= t[j] < t[i] + 60 s}, straight from docs/metrics.md#fast-likers."""
    return max((sum(1 for u in times if t <= u < t + SPAN_MICROS) for t in times), default=0)


def spread(n: int, start: int, span: int) -> list[int]:
    """n times from start to start + span inclusive, evenly spaced."""
    return [start + span * i // (n - 1) for i in range(n)]


def test_fifty_likes_in_59_999_seconds_is_fast() -> None:
    assert peak(spread(50, 0, 59_999_000)) == 50


def test_fifty_likes_in_exactly_60_seconds_is_not() -> None:
    assert peak(spread(50, 0, 60 * S)) == 0


def test_window_is_sliding_not_calendar_minutes() -> None:
    # 30 likes at 12:00:40-12:00:59 and 30 at 12:01:00-12:01:20.
    first = spread(30, 40 * S, 19 * S)
    second = spread(30, 60 * S, 20 * S)
    assert peak(first + second) == 60


def test_peak_over_several_bursts() -> None:
    bursts = spread(55, 0, 30 * S) + spread(70, 1000 * S, 50 * S) + spread(52, 2000 * S, 10 * S)
    assert peak(bursts) == 70


def test_reported_window_bounds_are_the_best_windows() -> None:
    windows = LikeWindows()
    found = [windows.add("u", t) for t in spread(50, 5 * S, 59 * S)]
    last = found[-1]
    assert last is not None
    assert (last.likes, last.start, last.end) == (50, 5 * S, 64 * S)


def test_users_are_independent() -> None:
    windows = LikeWindows()
    hits = [windows.add(f"u{i % 2}", i * S // 2) for i in range(98)]
    assert all(hit is None for hit in hits)


def test_out_of_order_like_counts_in_the_window_it_belongs_to() -> None:
    times = spread(49, 0, 50 * S)
    late = 25 * S + 1  # arrives last, belongs in the middle
    assert peak(times + [late]) == 50


def test_clock_jumping_back_restarts_the_window_without_crashing() -> None:
    windows = LikeWindows()
    for t in spread(40, 3600 * S, 30 * S):
        windows.add("u", t)
    results = [windows.add("u", t) for t in spread(50, 0, 30 * S)]
    assert results[-1] is not None and results[-1].likes == 50


def test_memory_is_bounded_by_the_last_two_rotations() -> None:
    windows = LikeWindows()
    for i in range(10_000):  # a new user every second
        windows.add(f"user{i}", i * S)
        windows.rotate()
    # Two rotations of users, and the half sample the stream's time trails by.
    assert len(windows) <= 2 * ROTATE_MICROS // S + CLOCK_SAMPLE // 2 + 1
    # The clock is set back (a jump: it counts for no rotation), and the
    # stream goes on from there: the users of the abandoned future are
    # forgotten after two rotations of it.
    for i in range(2 * ROTATE_MICROS // S + CLOCK_SAMPLE):
        windows.add("back", i * S)
        windows.rotate()
    assert len(windows) == 1


def test_a_stream_read_backwards_is_bounded_too() -> None:
    windows = LikeWindows()
    for i in range(10_000, 0, -1):
        windows.add(f"user{i}", i * S)
        windows.rotate()
    assert len(windows) <= 2 * ROTATE_MICROS // S + CLOCK_SAMPLE


def test_blocks_of_stray_likes_that_come_and_go_forget_nobody() -> None:
    """Two excursions (a block stamped an hour ahead, later one from 1970)
    between a user's two halves of a burst: still 50 in 16 s."""
    windows = LikeWindows()
    stream = iter(range(at("12:00:00"), at("13:00:00"), 50_000))
    found = []
    crowd = lambda n: windows.add_likes([f"c{i % 300}" for i in range(n)], [next(stream) for _ in range(n)])  # noqa: E731
    crowd(500)
    windows.rotate()  # the first rotation, which only sets the mark
    found += [windows.add("x", next(stream)) for _ in range(25)]
    for block in (at("13:00:00"), micros("1970-01-01T00:00:00")):
        windows.add_likes(["b"] * 200, [block + i for i in range(200)])
        windows.rotate()
        crowd(100)
        windows.rotate()
    found += [windows.add("x", next(stream)) for _ in range(25)]
    assert max(peak.likes for peak in found if peak is not None) == 50


def test_a_user_who_likes_again_within_a_rotation_survives_rotations() -> None:
    windows = LikeWindows()
    for i in range(400):  # one like every 40 s, for over four hours
        windows.add("steady", i * 40 * S)
        windows.rotate()
    assert len(windows) == 1
    (saved,) = windows.snapshot().values()
    held = list(saved)
    # What can still meet a like up to 10 minutes late, behind a stream's
    # time that trails this sparse stream by half its sample.
    assert held == [i * 40 * S for i in range(400) if i * 40 * S >= held[0]]
    assert 399 * 40 * S - held[0] <= HORIZON_MICROS + CLOCK_SAMPLE // 2 * 40 * S


def test_a_user_below_the_threshold_holds_only_the_likes_a_late_one_can_meet() -> None:
    windows = LikeWindows()
    for i in range(240):  # a crowd keeps the stream's time; "steady" likes once a minute
        windows.add_likes([f"c{j}" for j in range(60)] + ["steady"], [i * 60 * S + j * S for j in range(61)])
    # The horizon's 11 minutes hold 12 likes of each, one more while the
    # stream's time trails the newest likes; not the 240 of four hours.
    per_user = HORIZON_MICROS // (60 * S) + 2
    assert len(windows) == 61
    assert windows.likes_held() <= 61 * per_user


def test_a_user_past_a_few_likes_is_held_compactly_even_after_a_late_like() -> None:
    windows = LikeWindows()
    for t in (10 * S, 30 * S, 40 * S, 20 * S, 50 * S):  # the 4th like arrives out of order
        windows.add("u", t)
    (held,) = windows.snapshot().values()
    assert isinstance(held, array), "an array of 64-bit times, not a list of ints"


def test_a_late_like_does_not_wipe_a_burst() -> None:
    """25 likes, one stamped two minutes back, 25 more: 50 in 19.6 s."""
    burst = [at("12:40:00") + i * 400_000 for i in range(50)]
    windows = LikeWindows()
    found = [windows.add("u", t) for t in burst[:25]]
    found.append(windows.add("u", at("12:38:00")))
    found += [windows.add("u", t) for t in burst[25:]]
    assert max(peak.likes for peak in found if peak is not None) == 50


def test_a_stray_like_of_another_user_keeps_every_window() -> None:
    for stray in ("9999-12-31T23:59:59", "1970-01-01T00:00:00", "2025-03-16T11:40:00", "2025-03-16T12:42:00"):
        windows = LikeWindows()
        crowd = [(f"crowd{i % 500}", at("12:39:00") + i * 50_000) for i in range(1_000)]
        windows.add_likes(*zip(*crowd, strict=True))
        found = [windows.add("fast", at("12:39:50") + i * 500_000) for i in range(25)]
        # The stray comes last in its chunk, and a batch ends after it.
        windows.add_likes(["crowd1", "stray"], [at("12:40:02.5"), micros(stray)])
        windows.rotate()
        windows.add_likes(["crowd2"], [at("12:40:03")])
        windows.rotate()
        found += [windows.add("fast", at("12:40:03") + i * 500_000) for i in range(25)]
        assert max(peak.likes for peak in found if peak is not None) == 50, stray


def test_a_handful_of_stray_likes_cannot_move_the_stream_time() -> None:
    clock = StreamClock()
    assert clock.observe([at("12:00:00") + i for i in range(200)]) == 0
    strays = [micros("9999-12-31T23:59:59")] * 5 + [micros("1970-01-01T00:00:00")] * 5
    assert clock.observe(strays) == 2  # the first of each run jumped
    assert clock.now is not None and at("12:00:00") <= clock.now < at("12:00:00") + 200
    # A clock step of the producer moves it once most of the latest likes agree.
    assert clock.observe([at("11:00:00") + i for i in range(CLOCK_SAMPLE)]) == 1
    assert clock.now is not None and clock.now < at("11:00:01")


def test_snapshot_and_restore_keep_the_window() -> None:
    first = LikeWindows()
    times = spread(50, 0, 59 * S)
    for t in times[:30]:
        first.add("u", t)
    second = LikeWindows(first.snapshot())
    results = [second.add("u", t) for t in times[30:]]
    assert results[-1] is not None and results[-1].likes == 50


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300 * S), min_size=1, max_size=200))
def test_in_order_stream_matches_brute_force(raw: list[int]) -> None:
    times = sorted(raw)
    windows = LikeWindows(threshold=1)
    best = max(w.likes for t in times if (w := windows.add("u", t)) is not None)
    assert best == brute_force(times)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=120 * S), min_size=1, max_size=150))
def test_any_order_never_overcounts(times: list[int]) -> None:
    windows = LikeWindows(threshold=1)
    best = max(w.likes for t in times if (w := windows.add("u", t)) is not None)
    assert best <= brute_force(times)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=200 * S), min_size=1, max_size=200))
def test_a_threshold_reports_exactly_the_windows_that_reach_it(raw: list[int]) -> None:
    # Likes below the threshold are cut as they age, like any others; what
    # is held must never make a window look fuller than it is.
    times = sorted(raw)
    windows = LikeWindows(threshold=5)
    found = [w.likes for t in times if (w := windows.add("u", t)) is not None]
    truth = brute_force(times)
    assert max(found, default=0) == (truth if truth >= 5 else 0)


def test_a_restored_window_survives_its_users_own_stray_at_the_start() -> None:
    """Until the stream has a time, nothing is cut: not even by a stray of the user's own."""
    saved = LikeWindows()
    for i in range(49):
        saved.add("x", at("12:00:00") + i * 500_000)
    resumed = LikeWindows(saved.snapshot())
    resumed.add("x", micros("9999-12-31T23:59:59"))
    found = resumed.add("x", at("12:00:25"))
    assert found is not None and found.likes == 50
