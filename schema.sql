-- blueskypipe schema: rollup tables maintained by ./handle-stream and the
-- metric views exported by ./periodic. Applied idempotently at start-up;
-- the version lives in PRAGMA user_version, and upgrade steps that
-- `IF NOT EXISTS` cannot express are in blueskypipe/db.py.

-- Likes per minute of event time (`timestamp`, naive local time).
CREATE TABLE IF NOT EXISTS likes_by_minute (
    minute TEXT PRIMARY KEY,            -- 'YYYY-MM-DD HH:MM'
    likes  INTEGER NOT NULL
) WITHOUT ROWID;

-- Likes per user per minute, kept for a retention window only: for
-- inspection and for cross-checking the fast-liker windows.
-- Keyed by minute first so that retention is a range delete on the key.
CREATE TABLE IF NOT EXISTS likes_by_user_minute (
    minute  TEXT NOT NULL,
    user_id TEXT NOT NULL,
    likes   INTEGER NOT NULL,
    PRIMARY KEY (minute, user_id)
) WITHOUT ROWID;

-- Users whose likes reached the fast-liker threshold (windows.THRESHOLD)
-- inside some window shorter than 60 s; the writer adds no one else.
-- `likes` is the highest count seen in any such window; the window
-- bounds are those of that best window.
CREATE TABLE IF NOT EXISTS fast_likers (
    user_id      TEXT PRIMARY KEY,
    likes        INTEGER NOT NULL,
    window_start TEXT NOT NULL,
    window_end   TEXT NOT NULL
) WITHOUT ROWID;

-- Meaningful words of posts that mention "engineering", by the authors who
-- used them: an author counts at most once a word in 24 hours, and a post
-- repeating a text counted in that time adds nothing (blueskypipe/voices.py).
-- `word` is the merged word (the lemma: 'engineer' for 'engineers'); a post
-- that writes it in several forms counts once.
CREATE TABLE IF NOT EXISTS word_counts (
    word    TEXT PRIMARY KEY,
    authors INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS word_counts_by_authors ON word_counts (authors DESC, word);

-- The same counts per form of each merged word, lowercased as written
-- ('engineers'): the most written form labels the word in the metric.
CREATE TABLE IF NOT EXISTS word_forms (
    word    TEXT NOT NULL,
    form    TEXT NOT NULL,
    authors INTEGER NOT NULL,
    PRIMARY KEY (word, form)
) WITHOUT ROWID;

-- What the word counts remember, so that a restart keeps to the rule
-- above: a 64-bit hash of (author, word) or of a post's folded text, and
-- the stream time (microseconds, as in like_windows) until which it counts
-- no more. Written with each batch, and pruned by the stream's time.
CREATE TABLE IF NOT EXISTS word_voices (
    voice INTEGER PRIMARY KEY,
    until INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS word_voices_by_until ON word_voices (until);

-- Posts per primary language subtag ('unknown' and 'invalid' included).
CREATE TABLE IF NOT EXISTS posts_by_lang (
    lang  TEXT PRIMARY KEY,
    posts INTEGER NOT NULL
) WITHOUT ROWID;

-- Ingest statistics: counters ('events', 'rejected', 'collection:<nsid>',
-- 'rejected:<reason>', ...).
CREATE TABLE IF NOT EXISTS ingest_counts (
    name TEXT PRIMARY KEY,
    n    INTEGER NOT NULL
) WITHOUT ROWID;

-- Point values that belong to no run ('word_counts_reset_at': when the word
-- chart started over). Event and commit times are in `runs`.
CREATE TABLE IF NOT EXISTS ingest_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Sliding-window state of the fast-liker detector, saved on a graceful stop
-- and loaded (then cleared) at the next start: `times` holds the user's
-- recent like times as a JSON array of microseconds.
CREATE TABLE IF NOT EXISTS like_windows (
    user_id TEXT PRIMARY KEY,
    times   TEXT NOT NULL
) WITHOUT ROWID;

-- One row per run of ./handle-stream. Times of day are this machine's
-- local clock ('YYYY-MM-DD HH:MM:SS', the last commit to the millisecond),
-- like the event timestamps. A run updates its row with every commit;
-- `last_events_at` is the last commit that carried events (a run that
-- commits but gets none has a stalled source). `end_reason` (one of
-- records.EndReason) is 'end of input', 'signal', 'idle' (no input for
-- --idle-exit seconds) or 'error' when it stops, NULL while it runs, and
-- 'killed' when the next run finds it never closed (kill -9, power loss). Event times are kept as received; their minutes
-- ('YYYY-MM-DD HH:MM', as likes_by_minute keys them) are computed by the
-- parser, since the text may be in any ISO-8601 form. An event time more
-- than 10 minutes from the stream's time (a stray line) is not kept: the
-- stream's time is, in the form 'YYYY-MM-DDTHH:MM:SS.ffffff'.
-- `far_off_likes` counts the likes stamped that far from it.
CREATE TABLE IF NOT EXISTS runs (
    run_id           INTEGER PRIMARY KEY,
    started_at       TEXT NOT NULL,
    ended_at         TEXT,
    end_reason       TEXT,
    first_event_time TEXT,
    last_event_time  TEXT,
    lines            INTEGER NOT NULL DEFAULT 0,
    events           INTEGER NOT NULL DEFAULT 0,
    rejected         INTEGER NOT NULL DEFAULT 0,
    last_commit_at   TEXT,
    first_minute     TEXT,
    last_minute      TEXT,
    last_events_at   TEXT,
    far_off_likes    INTEGER NOT NULL DEFAULT 0
);

-- Events per commit over the last few minutes (Unix seconds), for the
-- ingest rate in ./periodic's status; pruned by every commit.
CREATE TABLE IF NOT EXISTS recent_commits (
    at     REAL PRIMARY KEY,
    events INTEGER NOT NULL
) WITHOUT ROWID;

-- Metric views: `select * from metric_…` shows exactly what the CSV shows.
-- Every minute with likes, and a 0 for each minute between a run's first
-- and last event that had none: a silence while the pipeline ran shows as
-- a hole in the chart. Minutes in which nothing ran (run_gaps) have no row,
-- and neither has a silence of more than a day between two minutes with
-- likes, or a run's first or last event (a stray first line, before the
-- stream had a time to judge it by, must not fill centuries). A run whose
-- last event lies before its first (the producer's clock stepped back)
-- gets no zeros: its row cannot tell which minutes it saw.
DROP VIEW IF EXISTS metric_likes_per_minute;
CREATE VIEW metric_likes_per_minute AS
    WITH RECURSIVE seen (run_id, minute) AS (
        SELECT run_id, first_minute FROM runs WHERE last_minute >= first_minute
        UNION SELECT run_id, last_minute FROM runs WHERE last_minute >= first_minute
        UNION SELECT r.run_id, l.minute FROM runs AS r
              JOIN likes_by_minute AS l ON l.minute BETWEEN r.first_minute AND r.last_minute
    ),
    silences (minute, next) AS (
        SELECT minute, next FROM (
            SELECT minute, lead(minute) OVER (PARTITION BY run_id ORDER BY minute) AS next FROM seen
        ) WHERE julianday(next || ':00') - julianday(minute || ':00') BETWEEN 1.5 / 1440 AND 1
    ),
    filled (minute, next) AS (
        SELECT strftime('%Y-%m-%d %H:%M', minute || ':00', '+1 minute'), next FROM silences
        UNION
        SELECT strftime('%Y-%m-%d %H:%M', minute || ':00', '+1 minute'), next FROM filled
        WHERE strftime('%Y-%m-%d %H:%M', minute || ':00', '+1 minute') < next
    )
    SELECT minute || ':00' AS time, coalesce(likes_by_minute.likes, 0) AS likes
    FROM (SELECT minute FROM filled UNION SELECT minute FROM seen UNION SELECT minute FROM likes_by_minute)
         AS minutes
    LEFT JOIN likes_by_minute USING (minute)
    ORDER BY minute;

DROP VIEW IF EXISTS metric_fast_likers;
CREATE VIEW metric_fast_likers AS
    SELECT user_id, likes
    FROM fast_likers
    ORDER BY likes DESC, user_id;

-- Ranked by authors, ties by label. Only the words that can still make the
-- top 10 (as many authors as the tenth) are labelled, so the cost does not
-- grow with the vocabulary.
DROP VIEW IF EXISTS metric_top_words;
CREATE VIEW metric_top_words AS
    WITH tenth AS (
        SELECT authors FROM word_counts ORDER BY authors DESC LIMIT 1 OFFSET 9
    ), contenders AS (
        SELECT word, authors FROM word_counts
        WHERE authors >= coalesce((SELECT authors FROM tenth), 0)
    )
    SELECT
        (SELECT form FROM word_forms AS f WHERE f.word = c.word
         ORDER BY f.authors DESC, f.form LIMIT 1) AS word,
        authors
    FROM contenders AS c
    ORDER BY authors DESC, word
    LIMIT 10;

DROP VIEW IF EXISTS metric_posts_per_language;
CREATE VIEW metric_posts_per_language AS
    SELECT lang, posts
    FROM posts_by_lang
    ORDER BY posts DESC, lang
    LIMIT 25;

-- One row of freshness and volume figures for ./periodic's status line.
-- Times come from the runs: the first event of the first run that saw one,
-- the last event and the last commit of the latest.
DROP VIEW IF EXISTS ingest_status;
CREATE VIEW ingest_status AS
    SELECT
        (SELECT first_event_time FROM runs WHERE first_event_time IS NOT NULL
         ORDER BY run_id LIMIT 1) AS first_event_time,
        (SELECT last_event_time FROM runs WHERE last_event_time IS NOT NULL
         ORDER BY run_id DESC LIMIT 1) AS last_event_time,
        (SELECT last_commit_at FROM runs WHERE last_commit_at IS NOT NULL
         ORDER BY run_id DESC LIMIT 1) AS last_commit_at,
        (SELECT value FROM ingest_state WHERE key = 'word_counts_reset_at') AS word_counts_reset_at,
        (SELECT coalesce(sum(n), 0) FROM ingest_counts WHERE name = 'events')   AS events,
        (SELECT coalesce(sum(n), 0) FROM ingest_counts WHERE name = 'rejected') AS rejected;

-- Where event time has holes: from the last event of one run to the first
-- event of the next run that saw any. Runs without events are skipped.
-- A join on the rowid, not a window function, so that the latest gaps
-- (ORDER BY after_run DESC LIMIT n) read a few rows, however many runs.
DROP VIEW IF EXISTS run_gaps;
CREATE VIEW run_gaps AS
    SELECT r.run_id AS after_run, n.run_id AS before_run,
           r.last_event_time AS gap_start, n.first_event_time AS gap_end,
           round((julianday(n.first_event_time) - julianday(r.last_event_time)) * 86400, 1) AS seconds,
           coalesce(r.end_reason, 'killed') AS after_run_ended_by
    FROM runs AS r
    JOIN runs AS n ON n.run_id = (
        SELECT run_id FROM runs
        WHERE run_id > r.run_id AND first_event_time IS NOT NULL
        ORDER BY run_id LIMIT 1
    )
    WHERE r.first_event_time IS NOT NULL
    ORDER BY after_run;

-- Minutes that a run observed only in part: the minute of its first event
-- and the minute of its last. Their likes (metric_likes_per_minute) may be
-- low because events of that minute fell before the run started or after
-- it stopped, not because fewer likes happened.
DROP VIEW IF EXISTS partial_minutes;
CREATE VIEW partial_minutes AS
    WITH edges AS (
        SELECT first_minute AS minute, 'run ' || run_id || ' started' AS edge
        FROM runs WHERE first_minute IS NOT NULL
        UNION ALL
        SELECT last_minute,
               'run ' || run_id || CASE WHEN end_reason IS NULL THEN ' is still running or was killed'
                                       ELSE ' ended (' || end_reason || ')' END
        FROM runs WHERE last_minute IS NOT NULL
    )
    SELECT e.minute || ':00' AS time, coalesce(l.likes, 0) AS likes, group_concat(e.edge, '; ') AS why
    FROM edges AS e LEFT JOIN likes_by_minute AS l ON l.minute = e.minute
    GROUP BY e.minute
    ORDER BY e.minute;
