-- The pipeline's two tables on a ClickHouse cluster: a TEMPLATE, NOT TESTED
-- HERE (tests run on one embedded engine; see docs/clickhouse.md).
--
-- Two databases: `bluesky` holds each shard's own tables, which the
-- writers use (a writer's DSN names a server of its shard and `/bluesky`);
-- `bluesky_all` holds Distributed tables of the same names over all shards,
-- which periodic and ad-hoc queries use (`--db clickhouse://.../bluesky_all`).
-- Replace `{cluster}`, the Keeper paths and the broker with your own;
-- `{shard}` and `{replica}` are the servers' macros. Create these before the
-- first handle-stream starts: its CREATE TABLE IF NOT EXISTS then finds
-- them. The columns must stay those of blueskypipe/clickhouse.sql
-- (tests/test_clickhouse_status.py checks the two tables against it).

CREATE DATABASE IF NOT EXISTS bluesky ON CLUSTER '{cluster}';
CREATE DATABASE IF NOT EXISTS bluesky_all ON CLUSTER '{cluster}';

-- Rollup deltas: each writer's batches are whole parts on its own shard. Replicated tables deduplicate
-- inserts by token through Keeper (replicated_deduplication_window).
CREATE TABLE bluesky.deltas ON CLUSTER '{cluster}' (
    share LowCardinality(String),
    run   UInt32,
    batch UInt64,
    kind  LowCardinality(String),
    k1    String,
    k2    String,
    n     Int64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/bluesky/deltas', '{replica}')
ORDER BY (kind, k1, k2, share, run, batch);

-- Raw valid events: a writer's share of the users (a partition of the log,
-- keyed by DID) on its own shard.
CREATE TABLE bluesky.events ON CLUSTER '{cluster}' (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/bluesky/events', '{replica}')
PARTITION BY toYYYYMMDD(received)
ORDER BY (collection, time)
TTL received + INTERVAL 7 DAY
SETTINGS ttl_only_drop_parts = 1;

-- What readers query: every shard's rows. A share's deltas are all on its
-- writer's shard, so the metrics' sums over all shards are exact. The
-- sharding keys only matter for inserts through these tables, which the
-- writers never make.
CREATE TABLE bluesky_all.deltas ON CLUSTER '{cluster}' AS bluesky.deltas
ENGINE = Distributed('{cluster}', bluesky, deltas, cityHash64(share));

CREATE TABLE bluesky_all.events ON CLUSTER '{cluster}' AS bluesky.events
ENGINE = Distributed('{cluster}', bluesky, events, cityHash64(did));

-- Instead of handle-stream's own copy of the raw events: ClickHouse reads
-- the topic that feeds the writers. Then start every handle-stream with
-- --keep-events-days 0, or each event is kept twice. These rows are not
-- judged by the pipeline's parser: a line it would reject is stored here,
-- and `time` is ClickHouse's reading of the timestamp (an offset converted
-- to UTC, an unreadable one as 1970), where handle-stream keeps the
-- wall-clock digits and clamps the years.
CREATE TABLE bluesky.firehose_queue ON CLUSTER '{cluster}' (line String)
ENGINE = Kafka
SETTINGS kafka_broker_list = 'kafka:9092',
         kafka_topic_list = 'bluesky-firehose',
         kafka_group_name = 'clickhouse-events',
         kafka_format = 'LineAsString';

CREATE MATERIALIZED VIEW bluesky.firehose_to_events ON CLUSTER '{cluster}'
TO bluesky.events AS
SELECT
    parseDateTime64BestEffortOrZero(JSONExtractString(line, 'timestamp'), 6, 'UTC') AS time,
    JSONExtractString(line, 'timestamp') AS timestamp,
    splitByChar('/', JSONExtractString(line, 'path'))[1] AS collection,
    JSONExtractString(line, 'repo') AS did,
    JSONExtractString(line, 'action') AS action,
    line
FROM bluesky.firehose_queue;
