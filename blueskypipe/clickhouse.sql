-- The ClickHouse store's tables (blueskypipe/clickhouse.py), created by the
-- first handle-stream. docs/clickhouse-cluster.sql has the same columns for
-- a cluster (tests/test_clickhouse_status.py checks that they agree).

-- What each batch changed in the rollups: one row per (kind, key) with its
-- count. The metrics are sums over it.
CREATE TABLE IF NOT EXISTS deltas (
    share LowCardinality(String),
    run   UInt32,
    batch UInt64,
    kind  LowCardinality(String),
    k1    String,
    k2    String,
    n     Int64
) ENGINE = MergeTree
ORDER BY (kind, k1, k2, share, run, batch)
SETTINGS non_replicated_deduplication_window = 10000;

-- Every valid event as received. `time` is the event's timestamp as a
-- DateTime64 (its naive wall-clock digits, held as UTC so that nothing
-- converts them), clamped to the years the type holds; `timestamp` is as
-- written. Text and languages come from the line, for queries; what counts
-- as valid was decided by the pipeline's parser. Partitions are days of
-- arrival, so the TTL drops whole parts; {days} is --keep-events-days.
CREATE TABLE IF NOT EXISTS events (
    received   DateTime DEFAULT now(),
    share      LowCardinality(String),
    run        UInt32,
    batch      UInt64,
    time       DateTime64(6, 'UTC'),
    timestamp  String,
    collection LowCardinality(String),
    did        String,
    action     LowCardinality(String),
    line       String CODEC(ZSTD(3)),
    text       String DEFAULT JSONExtractString(line, 'record', 'text'),
    langs      Array(String) DEFAULT JSONExtract(line, 'record', 'langs', 'Array(String)'),
    INDEX runs run TYPE minmax GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(received)
ORDER BY (collection, time)
TTL received + INTERVAL {days} DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;
