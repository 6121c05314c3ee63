"""Which posts qualify and which of their words count (docs/metrics.md#top-words)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from blueskypipe.words import meaningful_words
from tests.helpers import ROOT

EN = {"en"}


def words(text: str, langs: set[str] = EN) -> dict[str, set[str]]:
    found = meaningful_words(text, langs)
    assert found is not None, f"{text!r} should qualify"
    return found


def forms(text: str, langs: set[str] = EN) -> set[str]:
    return {form for written in words(text, langs).values() for form in written}


@pytest.mark.parametrize(
    "text",
    [
        "Engineering is fun",
        "love #engineering today",
        "engineering's best kept secret",
        "ENGINEERING!",
        "software/engineering, hardware",
        "what is engineering.It is fun",
        "Engineeringの話",
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
        "see github.com/engineering",
        "thanks @engineering.bsky.social",
        "#softwareengineering",
        "engineering.it is an Italian domain",
    ],
)
def test_does_not_qualify(text: str) -> None:
    assert meaningful_words(text, EN) is None


def test_hashtags_count_as_the_word_and_case_folds() -> None:
    assert words("engineering #Rust rust RUST") == {"rust": {"rust"}}


def test_not_meaningful_tokens_are_left_out() -> None:
    text = (
        "The engineering team and I shipped it: https://example.com/x example.org example.co.uk/path "
        "@alice.bsky.social 2025 42nd 🚀🔥 ok, a go-to; don't panic!"
    )
    assert forms(text) == {"team", "shipped", "panic"}


def test_a_capital_after_a_dot_ends_a_sentence_not_a_domain() -> None:
    assert forms("what is engineering.It is fun. Bridges.Next week") == {"fun", "bridges", "next", "week"}


# docs/metrics.md#stop-words: the filler each list must drop, and the topic words it must keep.
FILLER = {
    "en": "the and with this from have about just like really also would could get got one know think "
    "going want lol it's don't i'm you're "
    # the light verbs and vague words of real posts, and some of their forms
    "make see say take come give find tell feel look need thing something anything everything lot way "
    "much even still every back well many maybe actually probably pretty made makes saying says took "
    "things looking needs",
    "de": "und der die das nicht mit auch wir",
    "fr": "avec pour dans nous mais vous",
    "es": "para pero como este muy",
    "pt": "para com mas como muito você",
}
TOPICS = {
    "en": "computer research system problem test information work world data software design science open "
    "power energy team job students",
    "de": "daten forschung system arbeit",
    "fr": "données recherche système travail",
    "es": "datos investigación sistema trabajo",
    "pt": "dados pesquisa sistema trabalho",
}


@pytest.mark.parametrize("lang", sorted(FILLER))
def test_stop_lists_drop_filler(lang: str) -> None:
    for word in FILLER[lang].split():
        assert meaningful_words(f"engineering {word}", {lang}) == {}, word


@pytest.mark.parametrize("lang", sorted(TOPICS))
def test_stop_lists_keep_topic_words(lang: str) -> None:
    # English applies to every post, so its topic words must survive every list.
    for word in {*TOPICS[lang].split(), *TOPICS["en"].split()}:
        assert word in forms(f"engineering {word}", {lang}), word


@pytest.mark.parametrize("lang", sorted(TOPICS))
def test_two_capital_letters_are_an_acronym(lang: str) -> None:
    assert words("engineering AI and ML, #UX QA", {lang}) == {
        "ai": {"ai"},
        "ml": {"ml"},
        "ux": {"ux"},
        "qa": {"qa"},
    }


def test_short_words_do_not_count_unless_an_acronym() -> None:
    # "IT" is an acronym, but also a stop word once lowercased; Snowball
    # keeps "us" out of its list for "US".
    assert forms("engineering ai Ml go IT US UX x") == {"us", "ux"}


def test_inflections_merge_into_one_word() -> None:
    text = "engineering: engineers and an engineer researching systems; we built one system, it builds"
    assert words(text) == {
        "engineer": {"engineers", "engineer"},
        "research": {"researching"},
        "system": {"systems", "system"},
        "build": {"built", "builds"},
    }


def test_no_stemmer_merges_unrelated_words() -> None:
    found = words("engineering an engine, engineers, engineered")
    assert found == {"engine": {"engine"}, "engineer": {"engineers", "engineered"}}


def test_lemmas_come_from_the_english_dictionary_whatever_the_post_declares() -> None:
    # Words English does not know stay as written; English forms merge in any post.
    assert words("engineering: Systeme und Daten, engineers", {"de"}) == {
        "systeme": {"systeme"},
        "daten": {"daten"},
        "engineer": {"engineers"},
    }
    assert words("engineering: sistemas de pesquisas, systems", {"pt"}) == {
        "sistemas": {"sistemas"},
        "pesquisas": {"pesquisas"},
        "system": {"systems"},
    }


def test_a_word_that_merges_into_a_stop_word_is_filler() -> None:
    assert words("engineering: it knows, it goes, it gets") == {}


def test_scripts_without_spaces_are_not_counted_as_phrases() -> None:
    text = "engineering エンジニアリングの話 工程学 วิศวกรรม ວິສະວະກຳ វិស្វកម្ម အင်ဂျင်နီယာ AIエンジニア"
    assert words(text, {"ja"}) == {"ai": {"ai"}}


def test_letters_of_scripts_with_spaces_make_words() -> None:
    assert forms("engineering инженерия ingeniería 공학자") == {"инженерия", "ingeniería", "공학자"}


def test_a_word_counts_once_per_post() -> None:
    assert words("engineering " + "bridge bridges " * 100) == {"bridge": {"bridge", "bridges"}}


def test_unknown_language_falls_back_to_english_only() -> None:
    assert words("engineering the bridge", {"unknown", "invalid", "xx"}) == {"bridge": {"bridge"}}


def test_word_tools_load_only_for_a_qualifying_post() -> None:
    # The like path and ordinary posts must not pay for nltk or the lemmatiser.
    script = """
import sys
from blueskypipe.aggregate import Aggregator
from tests.helpers import event, post
heavy = ("nltk", "simplemma", "stopwordsiso")
agg = Aggregator()
agg.add_lines([event("2025-03-16T12:00:00"), post("2025-03-16T12:00:01", "an engine, no query word")])
assert not [m for m in heavy if m in sys.modules], "loaded too early"
agg.add_lines([post("2025-03-16T12:00:02", "engineering rocks")])
assert all(m in sys.modules for m in heavy), "never loaded"
"""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True)
