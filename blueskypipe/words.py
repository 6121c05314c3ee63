"""Meaningful words of posts that mention "engineering" (SPEC §3, top words).

Every post gets only the cheap substring test; nltk, the stop lists and the
lemmatiser are loaded when the first post passes it, so they cost nothing at
start-up or on the like path. `handle-stream` also starts `preload` on a
thread, so that at the live rate the English tools are ready before the
first engineering post and ingest does not stall for them.

nltk's RegexpTokenizer splits a post into URLs, domains, @mentions, hashtags
and words; only hashtags and words can be meaningful. Inside those, a word
is a run of letters of a script written with spaces: apostrophes split a
word ("engineering's" -> "engineering", "s"), and runs of Han, kana, Thai,
Lao, Khmer or Myanmar letters are not counted (we ship no segmenter for
them, and a run of them is a phrase, not a word). Forms of one word are
merged by simplemma's dictionaries for the post's languages, English last.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nltk.tokenize import RegexpTokenizer
    from simplemma import Lemmatizer

QUERY = "engineering"
MIN_LENGTH = 3

# word (the merged, lemmatised form) -> the lowercased forms one post wrote it in
Words = dict[str, set[str]]

_NO_SPACE_SCRIPTS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f\ua9e0-\ua9ff\uaa60-\uaa7f"  # Myanmar
    "\u1780-\u17ff\u19e0-\u19ff"  # Khmer
    "\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # kana, iteration marks
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # Han
)
_LETTERS = re.compile(f"[^\\W\\d_{_NO_SPACE_SCRIPTS}]+")

# stopwordsiso knows Norwegian as 'no' only; Bluesky clients also send these.
_STOPWORD_ALIASES = {"nb": "no", "nn": "no", "fil": "tl", "iw": "he", "in": "id"}

# stopwordsiso merges web-search lists, which drop topic words along with
# function words. These are put back (SPEC §3 names the first of each).
# French 'ai' (j'ai) is too short to count in lower case anyway, and in
# capitals it is the acronym.
_TOPIC_WORDS = {
    "de": set("mensch menschen gott ordnung sache teil".split()),
    "es": set(
        "trabajo trabaja trabajais trabajamos trabajan trabajar trabajas empleo empleais emplean "
        "emplear empleas valor pais país paìs estado estados".split()
    ),
    "fr": set(
        "ai essai gens personne personnes mot parole pièce sujet valeur état force ouvert ouverte "
        "ouverts".split()
    ),
    "pt": set(
        "sistema trabalho trabalhar apoio caminho conselho viagem pessoas povo valor área obra grupo "
        "nível número questão relação ponto pontos posição estado".split()
    ),
}


# Held while tools load and while a post uses them: the preload thread and
# the ingest loop must not both load the same dictionary.
_LOADING = threading.Lock()


def preload() -> None:
    """Load the tokenizer and the English stop list and dictionary now."""
    with _LOADING:
        _lemma("engineers", _lemma_langs(frozenset({"en"})))
        _stopwords(frozenset({"en"}))
        _tokenizer()


def mentions_query(text: str) -> bool:
    """Cheap test run on every post: could `text` contain the query word?"""
    return QUERY in text.lower()


def meaningful_words(text: str, langs: set[str]) -> Words | None:
    """The meaningful words of a qualifying post, or None when it does not qualify.

    A post qualifies when "engineering" is one of its words (whole word, any
    case; a URL, domain or mention containing it does not count). Left out:
    the word "engineering" itself, stop words of English and of each
    declared language (checked on the form and on the merged word), and
    words shorter than three letters, except two capitals ("AI").
    """
    if not mentions_query(text):
        return None
    with _LOADING:
        return _meaningful_words(text, langs)


def _meaningful_words(text: str, langs: set[str]) -> Words | None:
    stop = _stopwords(frozenset(langs))
    lemma_langs = _lemma_langs(frozenset(langs))
    qualifies = False
    found: Words = {}
    for run in _letter_runs(text, stop):
        form = run.lower()
        if form == QUERY:
            qualifies = True
        elif form not in stop and (len(run) >= MIN_LENGTH or (len(run) == 2 and run.isupper())):
            word = _lemma(run, lemma_langs)
            if word not in stop:
                found.setdefault(word, set()).add(form)
    return found if qualifies else None


def _letter_runs(text: str, stop: frozenset[str]) -> list[str]:
    """Letter runs of the hashtags and words of `text`, case kept."""
    runs: list[str] = []
    for token in _tokenizer().tokenize(text):
        if token[0] == "@" or "/" in token or "." in token:
            continue  # a mention, URL or domain
        word = token.removeprefix("#").replace("’", "'")
        if word.lower() not in stop:  # whole contractions: "don't", "it's"
            runs.extend(_LETTERS.findall(word))
    return runs


@lru_cache(maxsize=1)
def _tokenizer() -> RegexpTokenizer:
    # Imported here: nltk takes ~0.6 s to import, and most runs see their
    # first engineering post long after start-up.
    from nltk.tokenize import RegexpTokenizer

    return RegexpTokenizer(
        r"""
          https?://\S+                                   # URL
        | www\.\S+                                       # bare URL
        | @[\w.:-]+                                      # mention (handles have dots)
        | (?:[\w-]+\.)+(?![A-Z])[^\W\d_]{2,}(?:/\S*)?\b  # domain; "end.Next" is two words
        | \#\w+                                          # hashtag
        | \w+(?:['’]\w+)*                                # word, contractions kept whole
        """,
        flags=re.VERBOSE | re.UNICODE,
    )


@lru_cache(maxsize=4096)
def _lemma(run: str, langs: tuple[str, ...]) -> str:
    if run.isupper():
        return run.lower()  # an acronym: dictionaries read "AI" as a verb, "AWS" as a plural
    # The run keeps its case: German nouns and "LLMs" are found only so.
    return _lemmatizer().lemmatize(run, lang=langs).lower()


@lru_cache(maxsize=1)
def _lemmatizer() -> Lemmatizer:
    from simplemma import Lemmatizer
    from simplemma.strategies import DefaultStrategy
    from simplemma.strategies.dictionaries import StreamDictionaryFactory
    from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

    # Compact dictionaries: en, de, es, pt and fr would take ~400 MB as
    # dicts, ~40 MB this way (lookups are cached above). simplemma's own
    # low-memory factory keeps only 8 languages and reloads an evicted one
    # (0.3-4 s each), a stall every time a ninth language's engineering post
    # comes by; a long run keeps every language it has met instead.
    factory = StreamDictionaryFactory(cache_max_size=len(SUPPORTED_LANGUAGES))
    return Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=factory))


@lru_cache(maxsize=256)
def _lemma_langs(langs: frozenset[str]) -> tuple[str, ...]:
    from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

    declared = sorted(lang for lang in langs if lang in SUPPORTED_LANGUAGES and lang != "en")
    return (*declared, "en")


@lru_cache(maxsize=256)
def _stopwords(langs: frozenset[str]) -> frozenset[str]:
    import stopwordsiso

    words = set(_english_stopwords())
    for lang in langs - {"en"}:
        code = _STOPWORD_ALIASES.get(lang, lang)
        if stopwordsiso.has_lang(code):
            words |= {w.lower() for w in stopwordsiso.stopwords(code)} - _TOPIC_WORDS.get(code, set())
    return frozenset(words)


@lru_cache(maxsize=1)
def _english_stopwords() -> frozenset[str]:
    text = resources.files("blueskypipe").joinpath("data/stopwords-en.txt").read_text(encoding="utf-8")
    lines = (line.partition("#")[0].strip() for line in text.splitlines())
    return frozenset(line for line in lines if line)
