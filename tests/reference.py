"""Independent, brute-force answers for the metrics, straight from docs/metrics.md.

Slow and simple on purpose: it shares no code with blueskypipe.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import datetime, timedelta

LIKE = "app.bsky.feed.like"
POST = "app.bsky.feed.post"


def valid_events(lines: list[bytes]) -> list[dict]:
    return [json.loads(line) for line in lines]


def creates(events: list[dict], collection: str) -> list[dict]:
    return [e for e in events if e["action"] == "create" and e["path"].split("/")[0] == collection]


def likes_per_minute(events: list[dict]) -> list[list[str]]:
    counts = Counter(
        datetime.fromisoformat(e["timestamp"]).strftime("%Y-%m-%d %H:%M:00") for e in creates(events, LIKE)
    )
    return [["time", "likes"]] + [[m, str(n)] for m, n in sorted(counts.items())]


def fast_likers(events: list[dict]) -> list[list[str]]:
    times: dict[str, list[datetime]] = defaultdict(list)
    for e in creates(events, LIKE):
        times[e["repo"]].append(datetime.fromisoformat(e["timestamp"]))
    rows = []
    for user, ts in times.items():
        ts.sort()
        # For each like t, the likes in [t, t + 60 s): a binary search, not a scan.
        best = max(bisect_left(ts, t + timedelta(seconds=60)) - i for i, t in enumerate(ts))
        if best >= 50:
            rows.append((user, best))
    rows.sort(key=lambda r: (-r[1], r[0]))
    return [["user_id", "likes"]] + [[u, str(n)] for u, n in rows]


def posts_per_language(events: list[dict]) -> list[list[str]]:
    counts: Counter[str] = Counter()
    for e in creates(events, POST):
        langs = (e.get("record") or {}).get("langs") or []
        found = set()
        for entry in langs:
            # One entry may hold several tags: "en-US;en", "en,es", "fr de".
            tags = [tag for tag in re.split(r"[;,\s]", entry) if tag] or [entry]
            for tag in tags:
                if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", tag):
                    found.add(tag.split("-")[0].lower())
                else:
                    found.add("invalid")
        counts.update(found or {"unknown"})
    rows = sorted(counts.items(), key=lambda r: (-r[1], r[0]))[:25]
    return [["lang", "posts"]] + [[lang, str(n)] for lang, n in rows]


def top_words(posts: list[dict[str, set[str]]]) -> list[list[str]]:
    """From the known words of each qualifying post: {word: forms written}.

    A word counts once per post; its label is the form written by the most
    posts (ties: alphabetically first); rows by posts, then label.
    """
    counts = Counter(word for words in posts for word in words)
    form_counts = Counter((word, form) for words in posts for word, forms in words.items() for form in forms)
    labels = {}
    for word in counts:
        written = [(-n, form) for (w, form), n in form_counts.items() if w == word]
        labels[word] = min(written)[1]
    rows = sorted(((labels[w], n) for w, n in counts.items()), key=lambda r: (-r[1], r[0]))[:10]
    return [["word", "posts"]] + [[label, str(n)] for label, n in rows]
