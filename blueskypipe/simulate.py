"""An offline firehose: events byte-for-byte in the format `./bluesky` prints.

`./bluesky` prints `json.dumps(event)` (default separators, ASCII escapes)
with keys in the order timestamp, action, path, cid, prev, py_type, record,
repo. Lines are built from templates of pre-encoded pieces, which gives the
same bytes as `json.dumps` at a fraction of the cost; a test checks that
every generated line equals `json.dumps(json.loads(line))`.

Run it with `./scripts/launch simulate --help` (the options live in cli.py).
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

# The mix measured on tests/fixtures/firehose-sample.jsonl (423 real events).
MIX = {
    "app.bsky.feed.like": 0.631,
    "app.bsky.graph.follow": 0.144,
    "app.bsky.feed.repost": 0.106,
    "app.bsky.feed.post": 0.099,
    "app.bsky.graph.block": 0.010,
    "app.bsky.graph.listitem": 0.007,
    "app.bsky.actor.profile": 0.003,
}
REPO_OP = "com.atproto.sync.subscribeRepos#repoOp"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_TID = "234567abcdefghijklmnopqrstuvwxyz"
_POOL = 4096
USERS = 50_000
# Seconds of event time between two planted fast likers' bursts.
BURST_EVERY = 7.0
# Live, lines due within this much of each other are written together.
LIVE_SLACK_SECONDS = 0.002
# Activity is skewed (u ** SKEW picks low indexes more often) but mildly, so
# that at the live rate nobody but a planted user likes 50 times a minute.
SKEW = 1.3

# Language mix of posts, roughly as on the live network, which declares
# dozens of languages; None = no `langs`. Some clients write several tags in
# one string ("en-US;en").
LANGS: list[tuple[list[str] | None, float]] = [
    (["en"], 0.45),
    (["ja"], 0.14),
    (["pt"], 0.07),
    (["de"], 0.05),
    (["es"], 0.04),
    (["fr"], 0.03),
    (None, 0.04),
    (["en", "ja"], 0.02),
    (["EN-us"], 0.01),
    (["pt-BR", "en"], 0.02),
    (["ko"], 0.02),
    (["nb", "no"], 0.01),
    ([], 0.01),
    (["en-US;en"], 0.004),
    *((["it"], 0.006), (["nl"], 0.006), (["pl"], 0.006), (["ru"], 0.006), (["tr"], 0.006)),
    *((["uk"], 0.005), (["sv"], 0.005), (["fi"], 0.005), (["id"], 0.005), (["ca"], 0.005)),
    *((["zh"], 0.005), (["th"], 0.004), (["ar"], 0.004), (["fa"], 0.004), (["hi"], 0.004)),
    *((["cs"], 0.004), (["da"], 0.004), (["vi"], 0.004)),
]
WORDS = {
    "en": "the a and to of in is it for on with this that my so just day time love people new good "
    "today think really art game book music team work coffee cat dog night weekend".split(),
    "ja": "今日 明日 ありがとう 猫 ゲーム 音楽 仕事 写真 いい 本当に です ます".split(),
    "pt": "o a de que e do da em um para com não uma os no se na por mais dia hoje amor".split(),
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein heute".split(),
    "es": "de la que el en y a los del se las por un para con no una hoy amor día".split(),
    "fr": "de la le et les des en un du une que est pour qui dans pas aujourd jour".split(),
    "ko": "오늘 내일 감사 고양이 게임 음악".split(),
    "no": "og i det er som en til på av for ikke med".split(),
    "it": "il la di che e un per non con una oggi lavoro progetto".split(),
    "nl": "de het een en van ik je dat niet op vandaag werk".split(),
    "pl": "i w nie na się to jest że z do dzisiaj praca".split(),
    "ru": "и в не на я что с это как по сегодня работа".split(),
    "tr": "ve bir bu da için ne çok ama ben bugün iş".split(),
    "uk": "і в не на я що з це як сьогодні робота".split(),
    "sv": "och i att det som en på är av för idag jobb".split(),
    "fi": "ja on ei se että hän oli mutta tänään työ".split(),
    "id": "dan yang di ini itu dengan untuk tidak hari kerja".split(),
    "ca": "i de la el que en a per amb avui feina".split(),
    "zh": "今天 工作 我们 音乐 朋友 时间".split(),
    "th": "วันนี้ ทำงาน ขอบคุณ เพลง".split(),
    "ar": "في من على إلى هذا اليوم عمل".split(),
    "fa": "و در به از این که امروز کار".split(),
    "hi": "और का की है में यह आज काम".split(),
    "cs": "a v se na je že to dnes práce".split(),
    "da": "og i at det er en til på i dag arbejde".split(),
    "vi": "và của là có không người hôm nay công việc".split(),
}
ENGINEERING_WORDS = (
    "software hardware civil mechanical bridge rust python design systems team data platform "
    "reliability circuit robot chip sensor turbine build deploy".split()
)
EXTRAS = [
    "https://example.com/post/42",
    "@alice.bsky.social",
    "#art",
    "#rust",
    "🚀",
    "🔥🔥",
    "2025",
    "bsky.app",
    "!!",
    "...",
]


@dataclass(frozen=True)
class Burst:
    """A planted fast liker: `likes` likes spread over `span` seconds."""

    user: str
    likes: int
    start: float
    span: float


class Simulator:
    """Deterministic event lines for a seed; see `lines`."""

    def __init__(
        self,
        seed: int = 0,
        rate: float = 1500.0,
        start: datetime | None = None,
        fast_likers: int | None = None,
        engineering_share: float = 0.02,
    ) -> None:
        """`fast_likers`: how many bursts to plant, or None for one every
        BURST_EVERY seconds for as long as the stream runs, as the real
        network has such accounts every minute."""
        self.rng = random.Random(seed)
        self.rate = rate
        self.start = start or datetime(2025, 3, 16, 13, 0, 0)
        self.engineering_share = engineering_share
        self.users = [_did(self.rng) for _ in range(USERS)]
        self.cids = [_cid(self.rng) for _ in range(_POOL)]
        self.rkeys = [_tid(self.rng) for _ in range(_POOL)]
        self.posts = [self._post_record(engineering=False) for _ in range(_POOL)]
        self.eng_posts = [self._post_record(engineering=True) for _ in range(_POOL // 8)]
        self.fast_likers = fast_likers
        # The planted bursts, when there is a fixed number of them.
        self.bursts = [] if fast_likers is None else list(itertools.islice(self._plan_bursts(), fast_likers))
        kinds, weights = zip(*MIX.items(), strict=True)
        self._kinds = self.rng.choices(kinds, weights, k=1 << 16)

    def _plan_bursts(self) -> Iterator[Burst]:
        # One burst every BURST_EVERY s of event time from 5 s on, each by its
        # own user, so that no two of them can meet in one window. A random
        # generator of their own: the same bursts, planned ahead or on the way.
        rng = random.Random(self.rng.random())
        for i in itertools.count():
            yield Burst(
                user=_did(rng),
                likes=50 + rng.randrange(60),
                start=5.0 + BURST_EVERY * i,
                span=10.0 + rng.random() * 45.0,
            )

    def lines(
        self, count: int | None = None, duration: float | None = None, start: datetime | None = None
    ) -> Iterator[str]:
        """Lines (without newline) with synthetic timestamps from `start` (by
        default the simulator's) at `rate`/s."""
        return (line for _, line in self.timed_lines(count, duration, start))

    def timed_lines(
        self, count: int | None = None, duration: float | None = None, start: datetime | None = None
    ) -> Iterator[tuple[float, str]]:
        """(seconds after `start`, line) for each line of `lines`."""
        origin = start or self.start
        stamps = _Timestamps(origin)
        # _Timestamps counts from the whole second before `origin`.
        offset = origin.microsecond
        step = 1_000_000 / self.rate
        t = 0.0
        n = 0
        planned = iter(self.bursts) if self.fast_likers is not None else self._plan_bursts()
        upcoming = next(planned, None)
        # (the next like's time, the burst's number, its likes left, the burst)
        pending: list[tuple[float, int, int, Burst]] = []
        numbers = itertools.count()
        rng = self.rng
        end = float("inf") if duration is None else duration * 1e6
        while count is None or n < count:
            t += step * 2 * rng.random()
            if t >= end:
                return
            while upcoming is not None and upcoming.start * 1e6 <= t:
                heapq.heappush(pending, (upcoming.start * 1e6, next(numbers), upcoming.likes, upcoming))
                upcoming = next(planned, None)
            ts = stamps.format(int(t) + offset)
            if pending and pending[0][0] <= t:
                _, i, left, burst = heapq.heappop(pending)
                if left > 1:
                    # Evenly spaced over the span, so span < 60 s puts them all in one window.
                    heapq.heappush(pending, (t + burst.span * 1e6 / (burst.likes - 1), i, left - 1, burst))
                line = self._like(ts, burst.user)
            else:
                line = self.event(ts)
            yield t / 1e6, line
            n += 1

    def event(self, ts: str) -> str:
        """One random event at timestamp `ts`."""
        rng = self.rng
        kind = self._kinds[rng.getrandbits(16)]
        user = self.users[int(rng.random() ** SKEW * USERS)]
        if kind == "app.bsky.feed.like":
            return self._like(ts, user)
        rkey = self.rkeys[rng.getrandbits(12)]
        cid = self.cids[rng.getrandbits(12)]
        if kind == "app.bsky.feed.post":
            pool = self.eng_posts if rng.random() < self.engineering_share else self.posts
            record = pool[rng.getrandbits(12) % len(pool)]
        elif kind == "app.bsky.feed.repost":
            record = (
                f'{{"$type": "{kind}", "subject": {{"cid": "{self.cids[rng.getrandbits(12)]}", '
                f'"uri": "at://{self.users[rng.getrandbits(12)]}/app.bsky.feed.post/{rkey}"}}, '
                f'"createdAt": "{ts[:23]}Z"}}'
            )
        elif kind == "app.bsky.actor.profile":
            record = f'{{"$type": "{kind}", "avatar": {{"ref": "<binary>"}}, "displayName": "Someone"}}'
            rkey = "self"
        else:
            record = (
                f'{{"$type": "{kind}", "subject": "{self.users[rng.getrandbits(12)]}", '
                f'"createdAt": "{ts[:23]}Z"}}'
            )
        return _line(ts, f"{kind}/{rkey}", cid, record, user)

    def _like(self, ts: str, user: str) -> str:
        rng = self.rng
        record = (
            f'{{"$type": "app.bsky.feed.like", "subject": {{"cid": "{self.cids[rng.getrandbits(12)]}", '
            f'"uri": "at://{self.users[rng.getrandbits(12)]}/app.bsky.feed.post/'
            f'{self.rkeys[rng.getrandbits(12)]}"}}, "createdAt": "{ts[:23]}Z"}}'
        )
        path = "app.bsky.feed.like/" + self.rkeys[rng.getrandbits(12)]
        return _line(ts, path, self.cids[rng.getrandbits(12)], record, user)

    def _post_record(self, engineering: bool) -> str:
        rng = self.rng
        langs = rng.choices([lang for lang, _ in LANGS], [w for _, w in LANGS])[0]
        vocabulary = _vocabulary(langs)
        words = rng.choices(vocabulary, k=rng.randrange(3, 25))
        words += rng.sample(EXTRAS, rng.randrange(0, 3))
        if engineering:
            words += rng.sample(ENGINEERING_WORDS, rng.randrange(1, 6))
            words.append(rng.choice(["engineering", "Engineering", "#engineering", "ENGINEERING!"]))
        rng.shuffle(words)
        record: dict[str, object] = {"$type": "app.bsky.feed.post", "createdAt": "2025-03-16T13:00:00.000Z"}
        record["text"] = " ".join(words)
        if langs is not None:
            record["langs"] = langs
        # createdAt is patched per event; json.dumps gives the exact escapes.
        return json.dumps(record)


@cache
def _vocabulary_of(tags: tuple[str, ...]) -> list[str]:
    """The words of the first declared language we have words for; English otherwise."""
    primaries = (re.split("[-;, ]", tag)[0].lower() for tag in tags)
    return next((WORDS[lang] for lang in primaries if lang in WORDS), WORDS["en"])


def _vocabulary(langs: list[str] | None) -> list[str]:
    return _vocabulary_of(tuple(langs or ()))


class _Timestamps:
    """`datetime.isoformat()` of origin + micros, caching the whole-second part."""

    def __init__(self, origin: datetime) -> None:
        self._second = -1
        self._prefix = ""
        # An origin with microseconds would break the cached prefix.
        self.origin = origin.replace(microsecond=0)

    def format(self, micros: int) -> str:
        second, micro = divmod(micros, 1_000_000)
        if second != self._second:
            self._second = second
            self._prefix = (self.origin + timedelta(seconds=second)).isoformat()
        # isoformat() leaves the fraction out when it is zero; so must we.
        return f"{self._prefix}.{micro:06d}" if micro else self._prefix


def _line(ts: str, path: str, cid: str, record: str, repo: str) -> str:
    return (
        f'{{"timestamp": "{ts}", "action": "create", "path": "{path}", "cid": "{cid}", '
        f'"prev": null, "py_type": "{REPO_OP}", "record": {record}, "repo": "{repo}"}}'
    )


def _did(rng: random.Random) -> str:
    return "did:plc:" + "".join(rng.choices(_B32, k=24))


def _cid(rng: random.Random) -> str:
    return "bafyrei" + "".join(rng.choices(_B32, k=52))


def _tid(rng: random.Random) -> str:
    return "3l" + "".join(rng.choices(_TID, k=11))


def write(lines: Iterator[str]) -> None:
    """Write lines to stdout in large chunks, as fast as the reader takes them."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= 4096:
            _flush(chunk)
    _flush(chunk)


def write_live(timed: Iterator[tuple[float, str]]) -> None:
    """Write each line when its time comes, counted from now, so that a line's
    timestamp is the wall clock's when it is written; lines due together
    (within LIVE_SLACK_SECONDS) go out in one write."""
    started = time.monotonic()
    chunk: list[str] = []
    for at, line in timed:
        ahead = started + at - time.monotonic()
        if ahead > LIVE_SLACK_SECONDS:
            _flush(chunk)
            time.sleep(ahead)
        chunk.append(line)
        if ahead <= 0:  # behind the clock (a rate it cannot make, a reader that waited): write now
            _flush(chunk)
    _flush(chunk)


def _flush(chunk: list[str]) -> None:
    if chunk:
        sys.stdout.buffer.write(("\n".join(chunk) + "\n").encode())
        sys.stdout.buffer.flush()
        chunk.clear()
