"""End-of-day validation reports.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade(timescale: bool, timescale_options) -> None:
    op.execute(
        """
        CREATE TABLE market_data.eod_reports (
            id         bigserial   PRIMARY KEY,
            day        date        NOT NULL,
            outcome    text        NOT NULL CHECK (outcome IN ('PASS', 'WARN', 'FAIL')),
            report     jsonb       NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX eod_reports_day_idx ON market_data.eod_reports (day, created_at DESC)")
