"""Seeded test streams whose meaningful words are known by construction."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.helpers import did, event, post

# Each word with forms that simplemma's English dictionary merges into it
# (checked by hand; it serves every post, whatever it declares); the first
# form is the word.
CONTENT = {
    "bridge": ["bridge", "bridges", "Bridges"],
    "rust": ["rust", "#Rust"],
    "python": ["python", "Python"],
    "robot": ["robot", "robots"],
    "circuit": ["circuit", "circuits"],
    "turbine": ["turbine", "turbines"],
    "physics": ["physics"],
    "design": ["design", "designs"],
    "chip": ["chip", "chips"],
    "sensor": ["sensor", "sensors"],
    "ai": ["AI", "#AI"],
}
FILLER = ["the", "and", "with", "our", "this", "is", "it's", "just", "lol"]  # English stop words
LANGS = [
    ["en"],
    ["EN-us"],
    ["de"],
    ["pt-BR", "en"],
    [],
    None,
    ["ja"],
    ["bad_tag"],
    ["en-US;en"],
    ["fr de"],
    ["en,es"],
]


Words = dict[str, set[str]]  # word -> the lowercased forms a post writes it in


@dataclass(frozen=True)
class Qualifying:
    """A post that mentions engineering, as reference.top_words reads it:
    who wrote it, when (as stamped, a stray's too), its text and its
    meaningful words, known by construction."""

    author: str
    timestamp: str
    text: str
    words: Words


def stream(seed: int, n: int, start: str = "2025-03-16T12:00:00") -> tuple[list[bytes], list[Qualifying]]:
    """n event lines, with fast likers, posts in several languages and
    engineering posts; also each qualifying post."""
    rng = random.Random(seed)
    t = datetime.fromisoformat(start)
    lines: list[bytes] = []
    qualifying: list[Qualifying] = []
    burster = 0
    while len(lines) < n:
        t += timedelta(microseconds=rng.randrange(0, 40_000))
        ts = t.isoformat()
        roll = rng.random()
        if roll < 0.55:
            lines.append(event(ts, repo=did(rng.randrange(300))))
        elif roll < 0.62:
            # A few heavy users produce windows around the threshold of 50.
            lines.append(event(ts, repo=did(1000 + burster % 4)))
            burster += 1
        elif roll < 0.75:
            text, words = post_text(rng)
            author = did(rng.randrange(300))
            lines.append(post(ts, text, rng.choice(LANGS), repo=author))
            if words is not None:
                qualifying.append(Qualifying(author, ts, text, words))
        elif roll < 0.99:
            lines.append(
                event(ts, "app.bsky.graph.follow", did(rng.randrange(300)), {"subject": "did:plc:x"})
            )
        else:
            lines.append(event(ts, repo=did(5), action="delete"))
    return lines, qualifying


def post_text(rng: random.Random) -> tuple[str, Words | None]:
    words: Words = {}
    parts = rng.sample(FILLER, 2)
    for word in rng.sample(sorted(CONTENT), rng.randrange(0, 5)):
        forms = rng.sample(CONTENT[word], rng.randrange(1, min(3, len(CONTENT[word])) + 1))
        parts += forms
        words[word] = {form.removeprefix("#").lower() for form in forms}
    if rng.random() < 0.5:
        parts.append(rng.choice(["Engineering", "#engineering", "ENGINEERING!", "engineering's"]))
        rng.shuffle(parts)
        return " ".join(parts), words
    parts.append(rng.choice(["reengineering", "https://x.com/engineering", "plain"]))
    rng.shuffle(parts)
    return " ".join(parts), None
