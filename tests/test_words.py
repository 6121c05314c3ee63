"""Which posts qualify and which of their words count (SPEC §3, top words)."""

from __future__ import annotations

import pytest

from blueskypipe.words import meaningful_words

EN = {"en"}


@pytest.mark.parametrize(
    "text",
    [
        "Engineering is fun",
        "love #engineering today",
        "engineering's best kept secret",
        "ENGINEERING!",
        "software/engineering, hardware",
    ],
)
def test_qualifies(text: str) -> None:
    assert meaningful_words(text, EN) is not None


@pytest.mark.parametrize(
    "text",
    [
        "reengineering the stack",
        "engineeringly speaking",
        "no mention at all",
        "read https://example.com/engineering now",
        "thanks @engineering.bsky.social",
        "#softwareengineering",
    ],
)
def test_does_not_qualify(text: str) -> None:
    assert meaningful_words(text, EN) is None


def test_hashtags_count_as_the_word_and_case_folds() -> None:
    assert meaningful_words("engineering #Rust rust RUST", EN) == {"rust"}


def test_not_meaningful_tokens_are_left_out() -> None:
    text = (
        "The engineering team and I shipped it: https://example.com/x example.org "
        "@alice.bsky.social 2025 42nd 🚀🔥 ok, a go-to; don't panic!"
    )
    assert meaningful_words(text, EN) == {"team", "shipped", "panic"}


def test_stop_words_of_the_declared_language_are_left_out() -> None:
    text = "engineering und die Brücke ist fertig"
    assert meaningful_words(text, {"en"}) == {"und", "die", "brücke", "ist", "fertig"}
    assert meaningful_words(text, {"de"}) == {"brücke", "fertig"}


def test_letters_of_any_script_make_words() -> None:
    assert meaningful_words("engineering инженерия 工程学 ingeniería", EN) == {
        "инженерия",
        "工程学",
        "ingeniería",
    }


def test_a_word_counts_once_per_post() -> None:
    assert meaningful_words("engineering " + "bridge " * 100, EN) == {"bridge"}


def test_unknown_language_falls_back_to_english_only() -> None:
    assert meaningful_words("engineering the bridge", {"unknown", "invalid", "xx"}) == {"bridge"}
