"""TimescaleDB features, behind detection of the extension.

With the extension available, `market_data.bars` becomes a hypertable with compression,
an optional retention policy and continuous aggregates for 5-minute and daily bars.
Without it, the same relation names exist as plain views computed on read, so every
query works unchanged on plain PostgreSQL. The SQL of both modes is generated here (and
tested), the migration only executes it.
"""

from __future__ import annotations

from dataclasses import dataclass

BARS = "market_data.bars"



def available(conn) -> bool:
    """True when the server can `CREATE EXTENSION timescaledb`."""
    row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    return row is not None


@dataclass(frozen=True)
class TimescaleOptions:
    chunk_interval: str = "7 days"
    compress_after: str = "7 days"
    retention_days: int = 0  # 0 keeps everything

    def __post_init__(self) -> None:
        if self.retention_days < 0:
            raise ValueError(f"retention_days must be >= 0 (0 keeps everything), got {self.retention_days}")


def _aggregates(bucket_5min: str, bucket_day: str, first: str, last: str) -> dict[str, str]:
    """SELECTs of the 5-minute and daily aggregates, given each mode's bucket and first/last."""
    body = (
        f"{first.format(col='open')} AS open, max(high) AS high, min(low) AS low, "
        f"{last.format(col='close')} AS close, sum(volume)::bigint AS volume, count(*) AS bars FROM {BARS}"
    )
    return {
        "bars_5min": f"SELECT symbol, {bucket_5min} AS ts, {body} GROUP BY symbol, {bucket_5min}",
        "bars_daily": f"SELECT symbol, {bucket_day} AS day, {body} GROUP BY symbol, {bucket_day}",
    }


def plain_statements() -> list[str]:
    """Aggregates as ordinary views: computed on read."""
    selects = _aggregates(
        "date_bin('5 minutes', ts, TIMESTAMPTZ '2000-01-03')",
        "(date_trunc('day', ts AT TIME ZONE 'America/New_York') AT TIME ZONE 'America/New_York')",
        "(array_agg({col} ORDER BY ts))[1]",
        "(array_agg({col} ORDER BY ts DESC))[1]",
    )
    return [f"CREATE OR REPLACE VIEW market_data.{name} AS {sql}" for name, sql in selects.items()]


def timescale_statements(opts: TimescaleOptions) -> list[str]:
    """Hypertable, compression, retention and continuous aggregates."""
    stmts = [
        "CREATE EXTENSION IF NOT EXISTS timescaledb",
        f"SELECT create_hypertable('{BARS}', by_range('ts', INTERVAL '{opts.chunk_interval}'), migrate_data => true)",
        f"ALTER TABLE {BARS} SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', "
        "timescaledb.compress_orderby = 'ts')",
        f"SELECT add_compression_policy('{BARS}', INTERVAL '{opts.compress_after}')",
    ]
    if opts.retention_days:
        stmts.append(f"SELECT add_retention_policy('{BARS}', INTERVAL '{int(opts.retention_days)} days')")
    selects = _aggregates(
        "time_bucket('5 minutes', ts)",
        "time_bucket('1 day', ts, 'America/New_York')",
        "first({col}, ts)",
        "last({col}, ts)",
    )
    for name, sql in selects.items():
        stmts.append(
            f"CREATE MATERIALIZED VIEW market_data.{name} WITH (timescaledb.continuous) AS {sql} WITH NO DATA"
        )
        stmts.append(
            f"SELECT add_continuous_aggregate_policy('market_data.{name}', start_offset => INTERVAL '30 days', "
            "end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '15 minutes')"
        )
    return stmts
