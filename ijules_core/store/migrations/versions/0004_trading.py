"""Paper trading: sessions, decisions, orders, fills, position snapshots, risk events, heartbeats,
controls — and the simulated venue's own books.

The service writes an order before it sends it and a fill before it books it, so after a
crash these tables plus the broker's own record say everything that happened. The `sim_*`
tables are the simulated broker's side of the story: a venue outlives the service that
trades on it, so the simulated one keeps its books in the database too.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"

ORDER_STATUS = "('NEW', 'SUBMITTED', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'REJECTED')"


def upgrade(timescale: bool, timescale_options) -> None:
    op.execute(
        """
        CREATE TABLE trading.sessions (
            session_id text        PRIMARY KEY,               -- '<account>:<day>'
            account    text        NOT NULL,
            day        date        NOT NULL,
            broker     text        NOT NULL,
            policy     text        NOT NULL,
            symbols    text[]      NOT NULL,
            start_cash double precision NOT NULL,
            risk       jsonb       NOT NULL,                  -- the RiskConfig the session ran under
            status     text        NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'CLOSED')),
            opened_at  timestamptz NOT NULL DEFAULT now(),
            closed_at  timestamptz,
            report     jsonb,                                 -- the end-of-day session report
            UNIQUE (account, day)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE trading.decisions (
            session_id  text        NOT NULL REFERENCES trading.sessions ON DELETE CASCADE,
            ts          timestamptz NOT NULL,                 -- decision time: the bar's close
            kind        text        NOT NULL CHECK (kind IN ('policy', 'halt', 'flatten')),
            action      smallint    NOT NULL CHECK (action BETWEEN 0 AND 8),
            confidence  real,                                 -- probability of the chosen action
            observation real[],                               -- what the policy saw (replayed after a restart)
            policy_ms   real,                                 -- bar in -> action chosen
            latency_ms  real,                                 -- bar in -> last order submitted
            orders      int,
            PRIMARY KEY (session_id, ts)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE trading.orders (
            client_order_id text        PRIMARY KEY,
            session_id      text        NOT NULL REFERENCES trading.sessions ON DELETE CASCADE,
            symbol          text        NOT NULL,
            qty             int         NOT NULL CHECK (qty <> 0),
            created_ts      timestamptz NOT NULL,
            status          text        NOT NULL CHECK (status IN {ORDER_STATUS}),
            filled_qty      int         NOT NULL DEFAULT 0,
            avg_fill_price  double precision NOT NULL DEFAULT 0,
            reason          text        NOT NULL DEFAULT '',
            updated_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX orders_session_idx ON trading.orders (session_id, created_ts)")
    op.execute(
        """
        CREATE TABLE trading.fills (
            account         text        NOT NULL,
            exec_id         text        NOT NULL,             -- the broker's execution id: a fill is booked once
            seq             bigserial   NOT NULL UNIQUE,      -- booking order, replayed on restart
            session_id      text        NOT NULL REFERENCES trading.sessions ON DELETE CASCADE,
            client_order_id text,                             -- empty for a position adjustment
            symbol          text        NOT NULL,
            qty             int         NOT NULL CHECK (qty <> 0),
            price           double precision NOT NULL,
            commission      double precision NOT NULL,
            ts              timestamptz NOT NULL,
            source          text        NOT NULL CHECK (source IN ('broker', 'reconcile', 'adjust')),
            booked_at       timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (account, exec_id)
        )
        """
    )
    op.execute("CREATE INDEX fills_session_idx ON trading.fills (session_id, seq)")
    op.execute(
        """
        CREATE TABLE trading.positions (
            session_id text        NOT NULL REFERENCES trading.sessions ON DELETE CASCADE,
            ts         timestamptz NOT NULL,
            cash       double precision NOT NULL,
            equity     double precision NOT NULL,
            daily_pnl  double precision NOT NULL,
            drawdown   double precision NOT NULL,
            held       jsonb       NOT NULL,                  -- {symbol: shares held}
            working    jsonb       NOT NULL,                  -- {symbol: held + open orders}: what the governor approved
            prices     jsonb       NOT NULL,                  -- {symbol: last close}
            governor   jsonb       NOT NULL,                  -- the governor's state and counters
            PRIMARY KEY (session_id, ts)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE trading.risk_events (
            id         bigserial   PRIMARY KEY,
            session_id text        NOT NULL REFERENCES trading.sessions ON DELETE CASCADE,
            ts         timestamptz NOT NULL,
            kind       text        NOT NULL,                  -- refusal | state | reconcile | session
            reason     text        NOT NULL,
            symbol     text,
            detail     text        NOT NULL DEFAULT ''
        )
        """
    )
    op.execute("CREATE INDEX risk_events_session_idx ON trading.risk_events (session_id, ts)")
    op.execute(
        """
        CREATE TABLE trading.heartbeats (
            account          text        PRIMARY KEY,
            session_id       text,
            pid              int         NOT NULL,
            status           text        NOT NULL,            -- starting | trading | reconnecting | idle | stopped
            broker_connected boolean     NOT NULL,
            governor_state   text,
            last_bar         timestamptz,
            at               timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE trading.controls (
            id           bigserial   PRIMARY KEY,
            account      text        NOT NULL,
            command      text        NOT NULL CHECK (command IN ('halt', 'flatten', 'resume')),
            requested_at timestamptz NOT NULL DEFAULT now(),
            applied_at   timestamptz,
            result       text
        )
        """
    )
    op.execute("CREATE INDEX controls_pending_idx ON trading.controls (account) WHERE applied_at IS NULL")
    op.execute(
        """
        CREATE TABLE trading.sim_accounts (
            account      text        PRIMARY KEY,
            initial_cash double precision NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE trading.sim_orders (
            account         text        NOT NULL REFERENCES trading.sim_accounts ON DELETE CASCADE,
            client_order_id text        NOT NULL,
            seq             int         NOT NULL,             -- arrival order: pending orders fill in it
            symbol          text        NOT NULL,
            qty             int         NOT NULL,
            created_ts      timestamptz NOT NULL,
            status          text        NOT NULL CHECK (status IN {ORDER_STATUS}),
            filled_qty      int         NOT NULL DEFAULT 0,
            avg_fill_price  double precision NOT NULL DEFAULT 0,
            reason          text        NOT NULL DEFAULT '',
            wait_bars       int         NOT NULL DEFAULT 0,   -- bars still to wait before filling
            PRIMARY KEY (account, client_order_id),
            UNIQUE (account, seq)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE trading.sim_fills (
            account         text        NOT NULL REFERENCES trading.sim_accounts ON DELETE CASCADE,
            exec_id         text        NOT NULL,
            seq             int         NOT NULL,
            client_order_id text        NOT NULL,
            symbol          text        NOT NULL,
            qty             int         NOT NULL,
            price           double precision NOT NULL,
            commission      double precision NOT NULL,
            ts              timestamptz NOT NULL,
            PRIMARY KEY (account, exec_id),
            UNIQUE (account, seq)
        )
        """
    )
