"""Meaningful words of posts that mention "engineering" (SPEC §3, top words).

nltk's RegexpTokenizer splits a post into URLs, domains, @mentions,
hashtags and words; only hashtags and words can be meaningful. A word is a
run of letters in any script, so digits, punctuation and emoji never count,
and apostrophes split a word ("engineering's" -> "engineering", "s").
"""

from __future__ import annotations

import re
from functools import lru_cache

import stopwordsiso
from nltk.tokenize import RegexpTokenizer

QUERY = "engineering"
MIN_LENGTH = 3

_TOKENS = RegexpTokenizer(
    r"""
      https?://\S+                               # URL
    | www\.\S+                                   # bare URL
    | @[\w.:-]+                                  # mention (handles have dots)
    | (?:[\w-]+\.)+[^\W\d_]{2,}(?:/\S*)?\b       # domain, maybe with a path
    | \#\w+                                      # hashtag
    | \w+(?:['’]\w+)*                            # word, contractions kept whole
    """,
    flags=re.VERBOSE | re.UNICODE,
)
_LETTERS = re.compile(r"[^\W\d_]+")

# stopwordsiso knows Norwegian as 'no' only; Bluesky clients also send these.
_STOPWORD_ALIASES = {"nb": "no", "nn": "no", "fil": "tl", "iw": "he", "in": "id"}


def mentions_query(text: str) -> bool:
    """Cheap test run on every post: could `text` contain the query word?"""
    return QUERY in text.lower()


def tokens(text: str) -> set[str]:
    """Distinct lowercased word and hashtag tokens of `text` ('#' dropped).

    URLs, domains and @mentions are not tokens; contractions stay whole
    ("don't") so that they can be matched against stop-word lists.
    """
    found: set[str] = set()
    for token in _TOKENS.tokenize(text):
        if token[0] == "@" or not _is_word_token(token):
            continue
        found.add(token.removeprefix("#").lower().replace("’", "'"))
    return found


def meaningful_words(text: str, langs: set[str]) -> set[str] | None:
    """Words of a qualifying post, or None when the post does not qualify.

    A post qualifies when "engineering" is one of its words (whole word, any
    case; a URL or mention containing it does not count). The query word,
    stop words of English and of each declared language, and words shorter
    than three letters are left out.
    """
    if not mentions_query(text):
        return None
    stop = _stopwords(frozenset(langs))
    qualifies = False
    found: set[str] = set()
    for token in tokens(text):
        runs = _LETTERS.findall(token)
        qualifies = qualifies or QUERY in runs
        if token not in stop:
            found.update(w for w in runs if len(w) >= MIN_LENGTH and w not in stop)
    if not qualifies:
        return None
    found.discard(QUERY)
    return found


def _is_word_token(token: str) -> bool:
    # URLs and domains are matched before words; a word token has no '.' or '/'.
    return "/" not in token and "." not in token


@lru_cache(maxsize=256)
def _stopwords(langs: frozenset[str]) -> frozenset[str]:
    codes = {"en"} | {_STOPWORD_ALIASES.get(lang, lang) for lang in langs}
    known = [code for code in codes if stopwordsiso.has_lang(code)]
    return frozenset(word.lower() for word in stopwordsiso.stopwords(known))
