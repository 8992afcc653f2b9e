"""Schemas, market bars (and their staging table), QC reports and the bar aggregates.

Revision ID: 0001
"""

from alembic import op

from ijules_core.store import timescale as ts

revision = "0001"
down_revision = None

SCHEMAS = ["market_data", "trading", "risk", "backtest", "dagster", "mlflow"]


def upgrade(timescale: bool, timescale_options: ts.TimescaleOptions) -> None:
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    op.execute(
        """
        CREATE TABLE market_data.bars (
            symbol      text             NOT NULL,
            ts          timestamptz      NOT NULL,  -- START of the minute, UTC
            open        double precision NOT NULL,
            high        double precision NOT NULL,
            low         double precision NOT NULL,
            close       double precision NOT NULL,
            volume      bigint           NOT NULL,
            vwap        double precision,
            trades      bigint,
            source      text             NOT NULL,
            ingested_at timestamptz      NOT NULL DEFAULT now(),
            PRIMARY KEY (symbol, ts)
        )
        """
    )
    # raw vendor bars land here first; QC reads them and only a passing batch is promoted to `bars`
    op.execute("CREATE UNLOGGED TABLE market_data.bars_staging (LIKE market_data.bars INCLUDING ALL)")
    op.execute(
        """
        CREATE TABLE market_data.qc_reports (
            id         bigserial   PRIMARY KEY,
            partition  date        NOT NULL,
            symbol     text        NOT NULL,  -- '*' for the partition as a whole
            outcome    text        NOT NULL CHECK (outcome IN ('CONTINUE', 'WARN', 'BLOCK')),
            metrics    jsonb       NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX qc_reports_partition_idx ON market_data.qc_reports (partition, symbol, created_at DESC)")
    statements = ts.timescale_statements(timescale_options) if timescale else ts.plain_statements()
    for stmt in statements:
        op.execute(stmt)
