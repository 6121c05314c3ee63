"""Top words on realistic posts: every post's words, and the chart they make."""

from __future__ import annotations

import pytest

from blueskypipe import langs
from blueskypipe.words import meaningful_words
from tests import reference
from tests.engineering_posts import POSTS, expected_words, langs_of
from tests.helpers import Pipeline, post


def test_the_corpus_is_large_and_varied() -> None:
    assert len(POSTS) >= 200
    assert {tags for tags, _, _ in POSTS} >= {"en", "de", "fr", "es", "pt", "ja", "zh", ""}


@pytest.mark.parametrize(("tags", "text", "expected"), POSTS, ids=[text[:40] for _, text, _ in POSTS])
def test_words_of_each_post(tags: str, text: str, expected: str | None) -> None:
    found = meaningful_words(text, langs.labels(langs_of(tags) or None))
    assert found == (None if expected is None else expected_words(expected))


def test_the_chart_of_the_corpus(pipeline: Pipeline) -> None:
    lines = [
        post(f"2025-03-16T12:{i // 60:02d}:{i % 60:02d}", text, langs_of(tags) or None)
        for i, (tags, text, _) in enumerate(POSTS)
    ]
    pipeline.ingest(lines)
    pipeline.periodic()
    qualifying = [expected_words(expected) for _, _, expected in POSTS if expected is not None]
    chart = pipeline.csv("top-10-word.csv")
    assert chart == reference.top_words(qualifying)
    # Forms merged: "system" and "systems" are one row, labelled by the form
    # more posts wrote; "hiring" stands for "hire" too.
    assert chart[1:5] == [["team", "14"], ["hiring", "9"], ["software", "8"], ["engineer", "7"]]
    assert ["systems", "6"] in chart
    assert "system" not in [word for word, _ in chart]
