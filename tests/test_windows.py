"""The exact sliding window behind fast likers (docs/metrics.md#fast-likers)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from blueskypipe.windows import SPAN_MICROS, LikeWindows

S = 1_000_000  # one second in microseconds


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


def test_memory_is_bounded_by_the_last_two_minutes() -> None:
    windows = LikeWindows()
    for i in range(10_000):
        windows.add(f"user{i}", i * S)
        windows.rotate(i * S)
    assert len(windows) <= 121
    # Users of an abandoned future are forgotten once the clock has been set
    # back for a span.
    windows.rotate(0)
    windows.rotate(SPAN_MICROS)
    assert len(windows) == 0


def test_a_user_who_likes_again_within_a_span_survives_rotations() -> None:
    windows = LikeWindows()
    for i in range(200):  # one like every 40 s, for over two hours
        windows.rotate(i * 40 * S)
        windows.add("steady", i * 40 * S)
    assert len(windows) == 1
    assert windows.snapshot() == {"steady": [198 * 40 * S, 199 * 40 * S]}


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
    # Likes below the threshold are held without dropping expired ones; they
    # must never make a window look fuller than it is.
    times = sorted(raw)
    windows = LikeWindows(threshold=5)
    found = [w.likes for t in times if (w := windows.add("u", t)) is not None]
    truth = brute_force(times)
    assert max(found, default=0) == (truth if truth >= 5 else 0)
