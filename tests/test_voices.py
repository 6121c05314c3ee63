"""Top words on the real network's habits: the text's own language, each
voice once, the query word left out (docs/metrics.md#top-words)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from blueskypipe import langs
from blueskypipe.voices import RECENT_POSTS, Voices
from blueskypipe.words import meaningful_words
from tests import reference
from tests.helpers import Pipeline, did, post
from tests.streams import Qualifying

START = datetime(2025, 3, 16, 12, 0, 0)
GERMAN = (
    "Wir suchen eine Ingenieurin für Engineering und Entwicklung, die nicht nur Brücken baut, "
    "sondern auch mit uns wächst."
)


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def chart(pipeline: Pipeline, lines: list[bytes]) -> list[list[str]]:
    pipeline.ingest(lines)
    pipeline.periodic()
    return pipeline.csv("top-10-word.csv")


def test_a_german_post_without_langs_loses_its_function_words() -> None:
    for declared in (None, ["en"]):  # undeclared, or labelled English by its client
        found = meaningful_words(GERMAN, langs.labels(declared))
        assert found is not None
        assert {"brücken", "entwicklung", "ingenieurin"} <= set(found)
        assert not {
            "wir",
            "eine",
            "für",
            "und",
            "die",
            "nicht",
            "nur",
            "sondern",
            "auch",
            "mit",
            "uns",
        } & set(found)


def test_an_english_post_keeps_its_words_whatever_it_declares() -> None:
    text = "Our engineering team ships data systems and research software"
    expected = {"team", "ship", "data", "system", "research", "software"}
    for declared in (None, ["en"], ["de"]):
        found = meaningful_words(text, langs.labels(declared))
        assert found is not None
        assert set(found) == expected


def test_compounds_of_the_query_never_count() -> None:
    found = meaningful_words("#SoftwareEngineering #EngineeringJobs engineering reengineered bridges", ["en"])
    assert found == {"reengineer": {"reengineered"}, "bridge": {"bridges"}}


def test_compounds_of_the_query_never_rank(pipeline: Pipeline) -> None:
    lines = [
        post(at(i), f"Engineering role {i} #SoftwareEngineering #EngineeringJobs", ["en"], repo=did(i))
        for i in range(30)
    ]
    assert chart(pipeline, lines) == [["word", "authors"], ["role", "30"]]


def test_a_text_repeated_30_times_counts_once(pipeline: Pipeline) -> None:
    """By 30 authors, in other case and spacing and with other links: one text."""
    base = "Engineering bridges that last: robots inspect every weld"
    lines = []
    for i in range(30):
        text = (base.upper() if i % 2 else base).replace(" ", " \n " if i % 3 else "  ")
        text += f" https://example.com/r/{i} example.org/p/{i}"
        lines.append(post(at(i), text, ["en"], repo=did(i)))
    lines.append(post(at(31), "Engineering bridges for trains", ["en"], repo=did(99)))
    rows = chart(pipeline, lines)
    assert dict(rows[1:]) == {
        "bridges": "2",
        "inspect": "1",
        "last": "1",
        "robots": "1",
        "trains": "1",
        "weld": "1",
    }


def test_one_accounts_30_template_variants_count_once_per_word(pipeline: Pipeline) -> None:
    rng = random.Random(5)
    lines = []
    for i in range(30):
        city = rng.choice(["Berlin", "Austin", "Leeds"])
        text = (
            f"⚡️ NEW: Senior Robotics engineering job in {city} #{i} Link to apply below 👇 jobs.example/{i}"
        )
        lines.append(post(at(i), text, ["en"], repo=did(1)))
    lines.append(post(at(40), "Robotics engineering is fun", ["en"], repo=did(2)))
    rows = chart(pipeline, lines)
    assert rows[1] == ["robotics", "2"]
    assert ["apply", "1"] in rows
    assert ["senior", "1"] in rows
    assert all(n == "1" for _, n in rows[2:])


def test_a_word_counts_again_after_24_hours_of_stream_time(pipeline: Pipeline) -> None:
    day = 86_400
    times = [0, day - 0.000001, day, day + 60, 2 * day]
    lines, qualifying = [], []
    for n, seconds in enumerate(times):
        text = f"Engineering bridges {n}"  # texts that differ: only the author's rule applies
        lines.append(post(at(seconds), text, ["en"], repo=did(1)))
        qualifying.append(Qualifying(did(1), at(seconds), text, {"bridge": {"bridges"}}))
    rows = chart(pipeline, lines)
    assert rows == reference.top_words(qualifying) == [["word", "authors"], ["bridges", "3"]]


def test_the_memory_survives_a_restart(pipeline: Pipeline) -> None:
    pipeline.ingest([post(at(0), "Engineering bridges", ["en"], repo=did(1))])
    pipeline.ingest([post(at(60), "Engineering bridges again", ["en"], repo=did(1))])
    pipeline.ingest([post(at(120), "engineering   BRIDGES", ["en"], repo=did(2))])  # the first text again
    pipeline.periodic()
    assert pipeline.csv("top-10-word.csv") == [["word", "authors"], ["bridges", "1"]]


def test_a_stray_post_adds_no_words_and_blocks_nothing(pipeline: Pipeline) -> None:
    """Stamped in year 9999 or 1970, far from the word chart's time (the
    median of the last nine qualifying posts), a post adds no words: it
    cannot block the real posts of its author for a day."""
    lines = [post(at(i), f"Engineering bridges {i}", ["en"], repo=did(10 + i)) for i in range(9)]
    lines += [
        post("9999-12-31T23:59:59", "Engineering turbines by a stray", ["en"], repo=did(1)),
        post(at(20), "Engineering turbines for real", ["en"], repo=did(1)),
        post("1970-01-01T00:00:00", "Engineering sensors from the past", ["en"], repo=did(3)),
        post(at(21), "Engineering sensors", ["en"], repo=did(3)),
    ]
    rows = chart(pipeline, lines)
    assert dict(rows[1:]) == {"bridges": "9", "turbines": "1", "real": "1", "sensors": "1"}


def test_a_stray_among_the_first_posts_blocks_nothing_once_the_chart_has_a_time(pipeline: Pipeline) -> None:
    """Before nine qualifying posts nothing can be judged a stray, so this one
    in year 9999 counts; its day-long block, far past the chart's time, must
    not silence its author's "turbines" (nor its text) for ever."""
    lines = [post("9999-12-31T23:59:59", "Engineering turbines by a stray", ["en"], repo=did(1))]
    lines += [post(at(i), f"Engineering bridges {i}", ["en"], repo=did(10 + i)) for i in range(9)]
    lines += [
        post(at(20), "Engineering turbines for real", ["en"], repo=did(1)),
        post(at(21), "Engineering turbines by a stray", ["en"], repo=did(2)),
    ]
    rows = chart(pipeline, lines)
    assert dict(rows[1:]) == {"bridges": "9", "turbines": "3", "stray": "2", "real": "1"}


def test_the_memory_stays_that_of_a_day_over_many_days() -> None:
    voices = Voices()
    day = 86_400_000_000
    sizes = []
    for hour in range(24 * 4):  # four days, a post by a new author every hour, and a sweep
        voices.admit(f"did:plc:{hour}", hour * day // 24, f"text {hour}", ["bridge", "steel"])
        voices.forget()
        sizes.append(len(voices))
    # A day of posts (3 blocks each), behind a chart's time that trails the
    # hourly posts by half its sample, and kept 20 minutes after they end.
    assert max(sizes[48:]) <= 3 * (24 + RECENT_POSTS // 2 + 1)
    assert sizes[-1] == sizes[48], "level, not growing"
