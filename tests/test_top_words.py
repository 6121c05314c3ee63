"""Top words on realistic posts: every post's words, and the chart they make."""

from __future__ import annotations

import re

import pytest

from blueskypipe import langs
from blueskypipe.words import meaningful_words
from tests import reference
from tests.engineering_posts import POSTS, expected_words, langs_of
from tests.helpers import SAMPLE, Pipeline, committed, did, post, recorded_runs
from tests.streams import Qualifying


def test_the_corpus_is_large_and_varied() -> None:
    assert len(POSTS) >= 200
    assert {tags for tags, _, _ in POSTS} >= {"en", "de", "fr", "es", "pt", "ja", "zh", ""}


@pytest.mark.parametrize(("tags", "text", "expected"), POSTS, ids=[text[:40] for _, text, _ in POSTS])
def test_words_of_each_post(tags: str, text: str, expected: str | None) -> None:
    found = meaningful_words(text, langs.labels(langs_of(tags) or None))
    assert found == (None if expected is None else expected_words(expected))


def near_miss(text: str) -> str:
    """`text` with "engineering" only inside a longer word, which docs/metrics.md
    says does not qualify (`reengineering`, `#reengineering`, `github.com/reengineering`)."""
    return re.sub("engineering", "reengineering", text, flags=re.IGNORECASE)


def test_the_chart_of_the_corpus_among_real_events(pipeline: Pipeline) -> None:
    """One run of the real sample (whose posts are not about engineering),
    the corpus, and each corpus post again with "engineering" only inside a
    longer word: only the corpus's qualifying posts may move the chart."""
    sample = SAMPLE.read_bytes().splitlines()
    sample_posts = [e for e in reference.valid_events(sample) if e["path"].startswith(reference.POST)]
    assert len(sample_posts) > 20
    assert not any("engineering" in ((e["record"] or {}).get("text") or "").lower() for e in sample_posts)
    corpus, near_misses, qualifying = [], [], []
    for i, (tags, text, expected) in enumerate(POSTS):
        at, author = f"2025-03-16T12:{i // 60:02d}:{i % 60:02d}", did(i)  # an author a post
        corpus.append(post(at, text, langs_of(tags) or None, repo=author))
        near_misses.append(post(at, near_miss(text), langs_of(tags) or None, repo="did:plc:nearmiss"))
        if expected is not None:
            qualifying.append(Qualifying(author, at, text, expected_words(expected)))
    lines = sample + [line for pair in zip(corpus, near_misses, strict=True) for line in pair]
    pipeline.ingest(lines)
    pipeline.periodic()

    chart = pipeline.csv("top-10-word.csv")
    assert chart == reference.top_words(qualifying)
    assert committed(pipeline.db, "engineering_posts") == len(qualifying), "only the corpus's posts qualify"
    # Every line was read and counted: the other charts, from the reference alone.
    events = reference.valid_events(lines)
    assert committed(pipeline.db, "events") == len(events) == len(lines)
    assert pipeline.csv("posts-per-language.csv") == reference.posts_per_language(events)
    # The corpus is stamped an hour before the sample: its posts jump back.
    runs = recorded_runs(pipeline.db)
    assert pipeline.csv("likes-per-minutes.csv") == reference.likes_per_minute(events, runs)
    # Forms merged: "system" and "systems" are one row, labelled by the form
    # more posts wrote; "hiring" stands for "hire" too.
    assert chart[1:5] == [["team", "14"], ["hiring", "9"], ["software", "8"], ["engineer", "7"]]
    assert ["systems", "6"] in chart
    assert "system" not in [word for word, _ in chart]
