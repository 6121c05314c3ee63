"""The aggregator alone: exact inputs, no SQLite, no clock."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blueskypipe import events, words
from blueskypipe.aggregate import Aggregator
from blueskypipe.records import Batch
from tests.helpers import did, event, post

LIKE = "app.bsky.feed.like"


def batches(lines: list[bytes], cuts: list[int]) -> list[Batch]:
    """Feed `lines` in chunks cut at `cuts`, taking a batch after each chunk."""
    agg = Aggregator()
    found = []
    bounds = sorted({0, len(lines), *[c % (len(lines) + 1) for c in cuts]})
    for start, end in zip(bounds, bounds[1:], strict=False):
        agg.add_lines(lines[start:end])
        found.append(agg.take_batch())
    return found


def test_a_batch_holds_every_rollup_delta() -> None:
    agg = Aggregator()
    agg.add_lines(
        [
            event("2025-03-16T13:26:53.5", repo=did(1)),
            event("2025-03-16T13:26:59", repo=did(1)),
            event("2025-03-16T13:27:01", repo=did(2)),
            post("2025-03-16T13:27:02", "Bridge engineering rocks", ["en-US"]),
            event("2025-03-16T13:27:03", "app.bsky.graph.follow", did(3), {"subject": did(1)}),
            event("2025-03-16T13:27:04", repo=did(4), action="delete"),
            b"garbage",
        ]
    )
    # The last batch of a run: before that, with so few likes, the stream has
    # no time yet to judge event times by, and they wait.
    batch = agg.take_batch(final=True)
    assert (batch.lines, batch.events, batch.rejected) == (7, 6, 1)
    assert batch.likes_by_minute == {"2025-03-16 13:26": 2, "2025-03-16 13:27": 1}
    assert batch.likes_by_user_minute == {
        "2025-03-16 13:26": {did(1): 2},
        "2025-03-16 13:27": {did(2): 1},
    }
    assert batch.word_counts == {"bridge": 1, "rock": 1}
    assert batch.word_forms == {("bridge", "bridge"): 1, ("rock", "rocks"): 1}
    assert batch.posts_by_lang == {"en": 1}
    assert batch.rejects == {"invalid_json": 1}
    assert (batch.ignored_actions, batch.engineering_posts) == (1, 1)
    assert batch.by_collection == {
        LIKE: 3,
        "app.bsky.feed.post": 1,
        "app.bsky.graph.follow": 1,
    }
    assert (batch.first_event_time, batch.last_event_time) == ("2025-03-16T13:26:53.5", "2025-03-16T13:27:04")
    assert agg.take_batch().lines == 0


def test_a_window_spans_batches() -> None:
    lines = [event(f"2025-03-16T13:26:{s:02d}.{s:06d}", repo=did(1)) for s in range(55)]
    found = batches(lines, [10, 20, 30, 40, 50])
    # The batch where the window reaches 50 reports it, later ones the growth.
    peaks = [b.fast_likers[did(1)].likes for b in found if did(1) in b.fast_likers]
    assert peaks == [50, 55]


def test_only_the_final_batch_carries_the_windows() -> None:
    agg = Aggregator()
    agg.add_lines([event("2025-03-16T13:26:53", repo=did(1)), event("2025-03-16T13:26:54", repo=did(1))])
    assert agg.take_batch().windows is None
    final = agg.take_batch(final=True)
    assert final.windows is not None
    assert [len(times) for times in final.windows.values()] == [2]
    # A run that starts from that snapshot continues the window.
    resumed = Aggregator(resume=final.windows)
    resumed.add_lines([event(f"2025-03-16T13:27:{s:02d}", repo=did(1)) for s in range(48)])
    assert resumed.take_batch().fast_likers[did(1)].likes == 50


line_kinds = st.sampled_from(
    [
        event("2025-03-16T13:26:53", repo=did(1)),
        event("2025-03-16T13:27:10.25", repo=did(2)),
        event("2025-03-16T14:00:00", repo=did(1), action="update"),
        post("2025-03-16T13:26:54", "engineering is fun", ["de"]),
        b"",
        b"{",
        b"[]",
        b"\xff\xfe",
        event("2025-03-16T13:26:55", repo="nobody"),
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(line_kinds, max_size=80), st.lists(st.integers(min_value=0, max_value=100), max_size=6))
def test_totals_do_not_depend_on_batching(lines: list[bytes], cuts: list[int]) -> None:
    whole = batches(lines, [])
    split = batches(lines, cuts)

    def total(found: list[Batch], pick) -> int:  # type: ignore[no-untyped-def]
        return sum(pick(b) for b in found)

    expected_likes = sum(
        1 for line in lines if b'"create"' in line and b"feed.like" in line and b"nobody" not in line
    )
    assert total(split, lambda b: sum(b.likes_by_minute.values())) == expected_likes
    assert (
        total(split, lambda b: sum(sum(users.values()) for users in b.likes_by_user_minute.values()))
        == expected_likes
    )
    for pick in (lambda b: b.lines, lambda b: b.rejected, lambda b: sum(b.posts_by_lang.values())):
        assert total(split, pick) == total(whole, pick)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=30))
def test_bad_lines_never_raise(lines: list[bytes]) -> None:
    agg = Aggregator()
    agg.add_lines(lines)
    assert agg.take_batch().lines == len(lines)


def test_a_restored_window_survives_first_batches_without_events() -> None:
    # A restart whose first batches hold only garbage, or another user's
    # like: the restored windows must still be there for the 50th like.
    user = did(1)
    first = Aggregator()
    first.add_lines([event(f"2025-03-16T12:00:{s:02d}", repo=user) for s in range(49)])
    saved = first.take_batch(final=True).windows
    second = Aggregator(resume=saved)
    second.add_lines([b"not json"])
    second.take_batch()
    second.add_lines([event("2025-03-16T12:00:49", repo=did(2))])
    second.take_batch()
    second.add_lines([event("2025-03-16T12:00:50", repo=user)])
    assert second.take_batch().fast_likers[user].likes == 50


def test_a_stray_timestamp_at_a_chunk_end_keeps_every_window() -> None:
    """A real fast liker (50 likes in 25 s) is still found when another user's
    line stamped far off ends a chunk and a batch (it used to rotate the
    windows twice). The stray counts in its own minute; the run's last event
    time and the retention clock stay with the stream."""
    crowd = [
        event(f"2025-03-16T12:39:{i // 20:02d}.{i % 20 * 50_000:06d}", repo=did(i % 300)) for i in range(1200)
    ]
    fast = [event(f"2025-03-16T12:40:{i // 2:02d}.{i % 2 * 500_000:06d}", repo=did(9999)) for i in range(50)]
    for stray in ("9999-12-31T23:59:59", "1970-01-01T00:00:00", "2025-03-16T11:40:00", "2025-03-16T12:42:00"):
        agg = Aggregator()
        agg.add_lines(crowd + fast[:25] + [event(stray, repo=did(7))])
        first = agg.take_batch()
        agg.add_lines([event("2025-03-16T12:40:12.6", repo=did(8))])
        agg.take_batch()
        agg.add_lines(fast[25:])
        last = agg.take_batch()
        assert last.fast_likers[did(9999)].likes == 50, stray
        assert first.likes_by_user_minute[stray[:16].replace("T", " ")][did(7)] == 1
        # Within 10 minutes of the stream's time, a last event time is taken as it is.
        last_time = first.last_event_time
        assert last_time is not None and last_time[:15] in ("2025-03-16T12:3", stray[:15])
        assert not last_time.startswith(("9999", "1970", "2025-03-16T11"))
        assert first.stream_micros is not None and last.stream_micros is not None
        assert abs(last.stream_micros - first.stream_micros) < 120_000_000
        # A stray far off is a jump of event time, for the status; two minutes ahead is not.
        assert first.far_off_likes == (stray != "2025-03-16T12:42:00")


def test_a_far_off_like_is_counted_as_a_jump() -> None:
    agg = Aggregator()
    agg.add_lines([event(f"2025-03-16T12:00:{i % 60:02d}", repo=did(i)) for i in range(200)])
    agg.add_lines([event("9999-12-31T23:59:59", repo=did(1)), event("2025-03-16T12:01:00", repo=did(2))])
    assert agg.take_batch().far_off_likes == 1


def test_a_line_whose_fold_raises_is_rejected_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """No exception raised while folding one line ends the run: that line is
    rejected as internal_error, with the exception's summary; the others are kept."""

    def broken(text: str, langs: object) -> None:
        if "boom" in text:
            raise KeyError("a bug nobody foresaw")

    monkeypatch.setattr(words, "meaningful_words", broken)
    heard: list[tuple[str, str | None]] = []
    agg = Aggregator()
    agg.add_lines(
        [
            event("2025-03-16T12:00:00", repo=did(1)),
            post("2025-03-16T12:00:01", "engineering boom", ["de"]),
            post("2025-03-16T12:00:02", "engineering fine", ["fr"]),
        ],
        lambda reason, line, detail: heard.append((reason, detail)),
    )
    batch = agg.take_batch()
    assert heard == [("internal_error", "KeyError: 'a bug nobody foresaw'")]
    assert batch.rejects == {"internal_error": 1}
    assert (batch.events, batch.by_collection) == (2, {LIKE: 1, "app.bsky.feed.post": 1})
    assert batch.posts_by_lang == {"fr": 1}  # the failed post left no trace


SECOND = "2025-03-16T13:26:53"
timestamps = st.one_of(
    st.sampled_from([SECOND, f"{SECOND}.123456", f"{SECOND}.12345", f"{SECOND}.1234567", f"{SECOND}Z"]),
    st.sampled_from(["2025-03-16T13:26:54", f"{SECOND}.12345\u0663", f"{SECOND},123456", f"{SECOND}.12 456"]),
    st.text(alphabet="0123456789.:Z+-", max_size=8).map(lambda tail: SECOND + tail),
    st.sampled_from(["\0" * 19, "\0" * 20, "\0" * 19 + ".123456", "\0" * 26]),
)
repos = st.one_of(
    st.sampled_from(["did:plc:abc234", "did:plc:ABC", "did:plc:", "did:web:example.com", "did:plc:ab-c"]),
    st.sampled_from(["did:plc:ab\u0663", "did:plc:ab.c", "did:plcx:abc", "DID:plc:abc"]),
    st.text(alphabet="abcXYZ019-._:\u00e9", max_size=10).map(lambda tail: "did:plc:" + tail),
)
paths = st.one_of(
    st.sampled_from([f"{LIKE}/3k", f"{LIKE}/", LIKE, "app.bsky.feed.post/3k", "app.bsky.graph.follow/3k"]),
    st.sampled_from(["com.example.unknown/3k", "app.bsky.feed.like/3k/x", "/3k", "app.bsky.feed.like3k"]),
)


@settings(max_examples=300, deadline=None)
@given(timestamp=timestamps, repo=repos, path=paths, escaped=st.booleans(), primed=st.booleans())
# Digits of other scripts, escaped into an ASCII line: int() and isalnum() take them.
@example(timestamp=f"{SECOND}.12345\u0663", repo="did:plc:abc", path=f"{LIKE}/3k", escaped=True, primed=True)
@example(timestamp=SECOND, repo="did:plc:ab\u0663", path=f"{LIKE}/3k", escaped=True, primed=True)
# A new aggregator knows no second yet: nothing is in it.
@example(timestamp="\0" * 19, repo="did:plc:abc", path=f"{LIKE}/3k", escaped=True, primed=False)
def test_the_fast_path_accepts_exactly_the_common_form(
    timestamp: str, repo: str, path: str, escaped: bool, primed: bool
) -> None:
    # The inline loop of add_lines is events.common_form written out: it
    # must take exactly those lines, and leave every other to parse_line,
    # and whatever it takes, parse_line reads alike.
    agg = Aggregator()
    if primed:
        agg.add_lines([event(SECOND)])  # the stream's second is now SECOND
    second = agg._times.second
    obj = orjson.loads(event(timestamp, repo=repo))
    obj["path"] = path
    # Escaped, a line of any text is ASCII: the fields must still be checked.
    line = json.dumps(obj).encode() if escaped else orjson.dumps(obj)
    # Judged before the line is read: parse_line learns a valid new collection.
    common = line.isascii() and events.common_form(timestamp, repo, path, second)
    before = agg.parsed_lines
    agg.add_lines([line])
    inline = agg.parsed_lines == before
    assert inline == common
    if inline:
        parsed = events.parse_line(line)
        assert (parsed.timestamp, parsed.repo, parsed.collection) == (timestamp, repo, path.partition("/")[0])


def test_a_first_line_stamped_with_nul_characters_is_rejected_alone() -> None:
    agg = Aggregator()
    agg.add_lines([event("\0" * 19), event(SECOND)])
    batch = agg.take_batch(final=True)
    assert batch.rejects == {"bad_timestamp": 1}
    assert batch.by_collection == {LIKE: 1}
