"""Language labels for posts-per-language (docs/metrics.md#posts-per-language)."""

from __future__ import annotations

import pytest

from blueskypipe.langs import label, labels


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("en-US", "en"),
        ("pt-BR", "pt"),
        ("zh-Hant-TW", "zh"),
        ("fil", "fil"),
        ("english", "invalid"),
        ("e", "invalid"),
        ("=cmd|' /C calc'!A0", "invalid"),
        ("en_US", "invalid"),
        ("", "invalid"),
    ],
)
def test_label(tag: str, expected: str) -> None:
    assert label(tag) == expected


def test_a_post_counts_once_per_distinct_language() -> None:
    assert labels(["en", "EN", "en-GB", "pt-BR"]) == {"en", "pt"}


@pytest.mark.parametrize("langs", [None, []])
def test_no_language_is_unknown(langs: list[str] | None) -> None:
    assert labels(langs) == {"unknown"}


@pytest.mark.parametrize(
    ("langs", "expected"),
    [
        (["en-US;en"], {"en"}),
        (["en,es"], {"en", "es"}),
        (["fr de"], {"fr", "de"}),
        (["pt-BR, en ;ja"], {"pt", "en", "ja"}),
        (["en;"], {"en"}),
        (["en;english"], {"en", "invalid"}),
        ([";"], {"invalid"}),
        (["de", "en,de"], {"de", "en"}),
    ],
)
def test_several_tags_in_one_string_count_as_each(langs: list[str], expected: set[str]) -> None:
    assert labels(langs) == expected
