"""Adversarial streams for the model-based test (tests/test_model.py).

A stream is built one step at a time: each step picks a kind of line by
weight and lets it write zero or more lines into the `World`. Every kind is
one small function in KINDS, so a new way for the input to go wrong is one
function and one weight. The lines are what the pipeline reads; the
qualifying posts are recorded beside them with their meaningful words,
because the reference (tests/reference.py) does not tokenize.

What the kinds keep to, since it is what the docs promise exactness for:
every like but a stray is stamped at most LATE_BOUND before the latest
time stamped so far (a like up to 10 minutes late joins its windows
exactly), and a stray is stamped where no user has other likes, so that
it can share no window.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.helpers import did, event, post
from tests.streams import CONTENT, FILLER, LANGS, Qualifying, post_text

START = datetime(2025, 3, 16, 12, 0, 0)
# Out-of-order likes and clock steps back stay inside this bound (10 minutes
# in the docs; kept a little shorter, as the stream's time trails the latest like).
LATE_BOUND = timedelta(minutes=9)
STRAY_TIMES = [
    "9999-12-31T23:59:59.999999",
    "1970-01-01T00:00:00",
    (START - timedelta(hours=1)).isoformat(),  # an hour before the stream began
]
USERS = 300  # ordinary likers
HEAVY = 4  # users whose likes hover around the threshold of 50
FAST = 1000  # planted fast likers start here


@dataclass
class World:
    """The stream being written, and the producer's clock."""

    rng: random.Random
    now: datetime = START  # the producer's clock: what the next line is stamped
    high: datetime = START  # the latest time stamped so far, strays aside
    lines: list[bytes] = field(default_factory=list)
    said: list[Qualifying] = field(default_factory=list)  # the qualifying posts
    pending: list[tuple[datetime, int, str]] = field(default_factory=list)  # planted likes, a heap
    bursts: int = 0

    def stamp(self, at: datetime | None = None) -> str:
        at = self.now if at is None else at
        self.high = max(self.high, at)
        # Both forms ./bluesky prints: datetime.isoformat drops zero microseconds.
        return at.isoformat()

    def user(self) -> str:
        return did(self.rng.randrange(USERS))

    def tick(self) -> None:
        """Time passes on the producer's clock; planted likes now due are written."""
        self.now += timedelta(microseconds=self.rng.randrange(0, 40_000))
        while self.pending and self.pending[0][0] <= self.now:
            at, _, user = heapq.heappop(self.pending)
            self.lines.append(event(self.stamp(max(at, self.high - LATE_BOUND)), repo=user))


def like(world: World) -> None:
    world.lines.append(event(world.stamp(), repo=world.user()))


def heavy_like(world: World) -> None:
    world.lines.append(event(world.stamp(), repo=did(500 + world.rng.randrange(HEAVY))))


def burst(world: World) -> None:
    """Plant a user who likes 40-90 times over 10-80 s, interleaved with the rest."""
    rng, user = world.rng, did(FAST + world.bursts)
    world.bursts += 1
    span = rng.uniform(10, 80)
    for i in range(rng.randrange(40, 91)):
        at = world.now + timedelta(seconds=rng.uniform(0, span))
        heapq.heappush(world.pending, (at, len(world.lines) * 100 + i, user))


def late_like(world: World) -> None:
    """A like of a planted or heavy user, stamped up to LATE_BOUND late."""
    user = did(FAST + world.rng.randrange(world.bursts)) if world.bursts else did(500)
    at = max(world.now - world.rng.uniform(0, 1) * LATE_BOUND, world.high - LATE_BOUND)
    world.lines.append(event(world.stamp(at), repo=user))


def same_instant(world: World) -> None:
    """One user liking several times in the same microsecond."""
    user, ts = did(500 + world.rng.randrange(HEAVY)), world.stamp()
    world.lines += [event(ts, repo=user)] * world.rng.randrange(2, 8)


def clock_step(world: World) -> None:
    """The producer's clock steps: forward by up to two hours, or back within LATE_BOUND."""
    rng = world.rng
    if rng.random() < 0.5:
        world.now += timedelta(seconds=rng.uniform(1, 7200))
    else:
        world.now = max(world.now - timedelta(seconds=rng.uniform(1, 540)), world.high - LATE_BOUND)
    world.pending = []  # planted likes are stamped by the old clock: dropped


def stray(world: World) -> None:
    """One line stamped far from the stream, by anyone, of any kind."""
    rng = world.rng
    ts = rng.choice(STRAY_TIMES)
    if rng.random() < 0.7:
        user = (
            did(FAST + rng.randrange(world.bursts)) if world.bursts and rng.random() < 0.5 else world.user()
        )
        world.lines.append(event(ts, repo=user))
    else:
        world.lines.append(post(ts, "a stray post", rng.choice(LANGS), repo=world.user()))


def replayed_block(world: World) -> None:
    """A block of old likes (a piece of a replayed file), from two hours
    before the stream began, then the stream goes on."""
    rng = world.rng
    at = START - timedelta(hours=2, seconds=-rng.uniform(0, 600))
    for _ in range(rng.randrange(60, 400)):
        at += timedelta(microseconds=rng.randrange(0, 40_000))
        world.lines.append(event(at.isoformat(), repo=world.user()))


def future_block(world: World) -> None:
    """A block of likes stamped in year 9999 (a corrupt piece of input), then the stream goes on."""
    at = datetime(9999, 1, 1) + timedelta(seconds=world.rng.uniform(0, 3600))
    for _ in range(world.rng.randrange(60, 300)):
        at += timedelta(microseconds=world.rng.randrange(0, 40_000))
        world.lines.append(event(at.isoformat(), repo=world.user()))


def ahead(world: World) -> None:
    """A like stamped two minutes ahead of the producer's clock."""
    at = world.now + timedelta(minutes=2)
    world.lines.append(event(at.isoformat(), repo=world.user()))


def plain_post(world: World) -> None:
    text, words = post_text(world.rng)
    ts, author = world.stamp(), world.user()
    world.lines.append(post(ts, text, world.rng.choice(LANGS), repo=author))
    if words is not None:
        world.said.append(Qualifying(author, ts, text, words))


def template_post(world: World) -> None:
    """A job board's ad: one of four accounts, one template, a new number and link each time."""
    rng = world.rng
    ts, author = world.stamp(), did(2000 + rng.randrange(4))
    n = rng.randrange(10**6)
    text = f"NEW: Robot engineering role #{n}, apply at jobs.example/{n} 👇 https://example.com/j/{n}"
    world.lines.append(post(ts, text, ["en"], repo=author))
    words = {"new": {"new"}, "robot": {"robot"}, "role": {"role"}, "apply": {"apply"}}
    world.said.append(Qualifying(author, ts, text, words))


def repeated_text(world: World) -> None:
    """Someone posts a qualifying text seen before, with other spacing and a link."""
    if not world.said:
        return
    said = world.rng.choice(world.said)
    text = " " + said.text.replace(" ", " \n ") + f" https://example.com/{world.rng.randrange(1000)}"
    ts, author = world.stamp(), world.user()
    world.lines.append(post(ts, text, ["en"], repo=author))
    world.said.append(Qualifying(author, ts, text, said.words))


def stray_qualifying_post(world: World) -> None:
    """A qualifying post stamped far from the stream: it adds no words."""
    text, words = post_text(world.rng)
    if words is None:
        return
    ts, author = world.rng.choice(STRAY_TIMES), world.user()
    world.lines.append(post(ts, text, ["en"], repo=author))
    world.said.append(Qualifying(author, ts, text, words))


def long_post(world: World) -> None:
    """A qualifying post whose words come first, then a pathological tail:
    only the first 3,000 characters are read."""
    rng = world.rng
    chosen = rng.sample(sorted(CONTENT), 3)
    words = {word: {CONTENT[word][0].lower()} for word in chosen}
    head = " ".join(["Engineering", *rng.sample(FILLER, 2), *(CONTENT[w][0] for w in chosen)])
    tail = rng.choice(["a." * 8000, " a.-" * 3000, "9" * 50_000, " #b" * 4000, " aa" * 5000])
    ts, author, text = world.stamp(), world.user(), head + " " + tail
    world.lines.append(post(ts, text, ["en"], repo=author))
    world.said.append(Qualifying(author, ts, text, words))


def other_collection(world: World) -> None:
    collection = world.rng.choice(["app.bsky.graph.follow", "app.bsky.feed.repost", "app.bsky.graph.block"])
    world.lines.append(event(world.stamp(), collection, world.user(), {"subject": "did:plc:x"}))


def not_create(world: World) -> None:
    world.lines.append(event(world.stamp(), repo=world.user(), action=world.rng.choice(["delete", "update"])))


GARBAGE: list[Callable[[World], bytes]] = [
    lambda w: bytes(w.rng.randrange(256) for _ in range(w.rng.randrange(1, 200))).replace(b"\n", b" "),
    lambda w: event(w.now.isoformat(), repo=w.user())[: w.rng.randrange(1, 100)],
    lambda w: event(w.now.date().isoformat(), repo=w.user()),  # a date without a time
    lambda w: event(w.now.isoformat(), repo="bob"),
    lambda w: (
        event(w.now.isoformat(), repo=w.user())
        .replace(b'"create"', b'"\\ud800"')
        .replace(b'"action"', b'"\\ud800"')
    ),
    lambda w: b"",
    lambda w: b"\xef\xbb\xbf" + event(w.now.isoformat(), repo=w.user()),  # a BOM only counts on line 1
    lambda w: json.dumps({"timestamp": w.now.isoformat(), "path": 5, "repo": w.user()}).encode(),
    lambda w: event("now", repo=w.user()),
]


def garbage(world: World) -> None:
    world.lines.append(world.rng.choice(GARBAGE)(world))


# kind -> (weight, writer). Weights are per step; most steps are ordinary.
KINDS: dict[str, tuple[float, Callable[[World], None]]] = {
    "like": (50, like),
    "heavy like": (7, heavy_like),
    "burst": (0.3, burst),
    "late like": (1.5, late_like),
    "same instant": (0.5, same_instant),
    "clock step": (0.05, clock_step),
    "stray": (0.3, stray),
    "replayed block": (0.02, replayed_block),
    "future block": (0.02, future_block),
    "two minutes ahead": (0.3, ahead),
    "post": (12, plain_post),
    "long post": (0.3, long_post),
    "job ad": (0.5, template_post),
    "repeated text": (0.3, repeated_text),
    "stray qualifying post": (0.1, stray_qualifying_post),
    "other collection": (24, other_collection),
    "not create": (1, not_create),
    "garbage": (1, garbage),
}


def adversarial_stream(seed: int, n: int) -> tuple[list[bytes], list[Qualifying]]:
    """About n lines of an adversarial stream, and its qualifying posts."""
    world = World(random.Random(seed))
    names = list(KINDS)
    weights = [KINDS[name][0] for name in names]
    if world.rng.random() < 0.3:  # a byte-order mark before the first line
        world.lines.append(b"\xef\xbb\xbf" + event(world.stamp(), repo=world.user()))
    while len(world.lines) < n:
        world.tick()
        KINDS[world.rng.choices(names, weights)[0]][1](world)
    return world.lines, world.said
