"""Backtest runs and their rolling windows.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade(timescale: bool, timescale_options) -> None:
    op.execute(
        """
        CREATE TABLE backtest.runs (
            run_id      text        PRIMARY KEY,
            as_of       date        NOT NULL,
            policy      text        NOT NULL,   -- e.g. champion:ijules-policy/3, or a baseline name
            status      text        NOT NULL CHECK (status IN ('PASS', 'FAIL')),
            gates       jsonb       NOT NULL,
            metrics     jsonb       NOT NULL,
            report_path text,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX runs_as_of_idx ON backtest.runs (as_of DESC)")
    op.execute(
        """
        CREATE TABLE backtest.windows (
            run_id    text    NOT NULL REFERENCES backtest.runs (run_id) ON DELETE CASCADE,
            idx       int     NOT NULL,   -- window number, oldest first
            start_day date    NOT NULL,
            end_day   date    NOT NULL,
            ok        boolean NOT NULL,
            reason    text,
            metrics   jsonb   NOT NULL,
            PRIMARY KEY (run_id, idx)
        )
        """
    )
