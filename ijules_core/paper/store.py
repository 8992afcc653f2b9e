"""The paper trader's tables (`trading.*`, migration 0004): its memory across crashes.

Write-ahead: an order row — in the same transaction as the decision that sent it — exists
before the broker hears of the order, a fill row before the portfolio books the fill
(`exec_id` is unique per account, so a fill is never booked twice), and everything a bar
changed — order states, the position snapshot with the governor's state, risk events, the
decision with its latency — lands in one transaction when the bar completes (a decision
that sent nothing is written then: a crash before it only means the bar is decided again).
A restart rebuilds the book from fills, the governor from the last snapshot and a
recurrent policy's memory from the observations of the day's decisions.

The command line works on the same rows: `ijules halt` / `flatten` / `resume` insert a
`controls` row the running service applies, `ijules status` reads the heartbeat and the
last snapshot — there is no second copy of the state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from ijules_core.orders import Fill, Order, OrderStatus
from ijules_core.risk import RiskConfig, RiskEvent

UTC = dt.timezone.utc
COMMANDS = ("halt", "flatten", "resume")


EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def to_dt(ns: int) -> dt.datetime:
    """ns since the epoch as a timestamptz value (PostgreSQL keeps µs)."""
    return EPOCH + dt.timedelta(microseconds=ns // 1_000)


def to_ns(ts: dt.datetime) -> int:
    delta = ts - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


@dataclass(frozen=True)
class Session:
    session_id: str
    account: str
    day: dt.date
    start_cash: float
    status: str


class Decision(NamedTuple):
    """A row of `trading.decisions`."""

    ts: int  # decision time: the bar's close
    kind: str  # policy | halt | flatten
    action: int
    confidence: float | None = None
    observation: np.ndarray | None = None
    policy_ms: float | None = None  # bar in -> action chosen
    latency_ms: float | None = None  # bar in -> last order submitted
    orders: int = 0


@dataclass(frozen=True)
class Snapshot:
    """The book at a moment, as `trading.positions` keeps it."""

    ts: int
    cash: float
    equity: float
    daily_pnl: float
    drawdown: float
    held: dict[str, int]
    working: dict[str, int]
    prices: dict[str, float]
    governor: dict


_DECISION_UPSERT = (
    "INSERT INTO trading.decisions (session_id, ts, kind, action, confidence, observation, policy_ms, latency_ms, "
    "orders) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (session_id, ts) DO UPDATE SET "
    "kind = EXCLUDED.kind, action = EXCLUDED.action, confidence = EXCLUDED.confidence, "
    "observation = EXCLUDED.observation, policy_ms = EXCLUDED.policy_ms, latency_ms = EXCLUDED.latency_ms, "
    "orders = EXCLUDED.orders")
_ORDER_INSERT = ("INSERT INTO trading.orders (client_order_id, session_id, symbol, qty, created_ts, status) "
                 "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (client_order_id) DO NOTHING")


def _decision_args(session_id: str, d: Decision) -> tuple:
    return (session_id, to_dt(d.ts), d.kind, d.action, d.confidence,
            None if d.observation is None else d.observation.tolist(), d.policy_ms, d.latency_ms, d.orders)


def _fill(row) -> Fill:
    coid, symbol, qty, price, commission, ts, exec_id = row
    return Fill(coid or "", symbol, qty, price, commission, to_ns(ts), exec_id)


class TradingStore:
    """One service's connection to its tables (autocommit: every write below is durable when it returns)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        if not conn.autocommit:
            raise ValueError("TradingStore needs an autocommit connection: each write must be durable on return")
        self.conn = conn

    # -- sessions ----------------------------------------------------------------------------
    def open_session(self, account: str, day: dt.date, broker: str, policy: str, symbols: Sequence[str],
                     start_cash: float, risk: RiskConfig) -> Session:
        """Today's session of the account: created on first start, found again after a restart."""
        session_id = f"{account}:{day}"
        self.conn.execute(
            "INSERT INTO trading.sessions (session_id, account, day, broker, policy, symbols, start_cash, risk) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (account, day) DO NOTHING",
            (session_id, account, day, broker, policy, list(symbols), start_cash, Jsonb(asdict(risk))))
        row = self.conn.execute("SELECT start_cash, status FROM trading.sessions WHERE session_id = %s",
                                (session_id,)).fetchone()
        return Session(session_id, account, day, row[0], row[1])

    def close_session(self, session_id: str, report: dict) -> None:
        self.conn.execute("UPDATE trading.sessions SET status = 'CLOSED', closed_at = now(), report = %s "
                          "WHERE session_id = %s", (Jsonb(report), session_id))

    # -- what a restart reads ------------------------------------------------------------------
    def fills(self, session_id: str) -> list[Fill]:
        """The session's fills in the order they were booked."""
        rows = self.conn.execute(
            "SELECT client_order_id, symbol, qty, price, commission, ts, exec_id FROM trading.fills "
            "WHERE session_id = %s ORDER BY seq", (session_id,)).fetchall()
        return [_fill(r) for r in rows]

    def exec_ids(self, account: str) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT exec_id FROM trading.fills WHERE account = %s", (account,))}

    def last_snapshot(self, account: str, session_id: str | None = None) -> Snapshot | None:
        return last_snapshot(self.conn, account, session_id)

    def observations(self, session_id: str, until_ns: int) -> list[np.ndarray]:
        """What the policy saw at each of its decisions up to `until_ns`, oldest first."""
        rows = self.conn.execute(
            "SELECT observation FROM trading.decisions WHERE session_id = %s AND kind = 'policy' AND ts <= %s "
            "ORDER BY ts", (session_id, to_dt(until_ns))).fetchall()
        return [np.asarray(r[0], dtype=np.float32) for r in rows]

    def session_orders(self, session_id: str) -> dict[str, OrderStatus]:
        """Client order id → status as written, oldest first."""
        return {r[0]: OrderStatus(r[1]) for r in self.conn.execute(
            "SELECT client_order_id, status FROM trading.orders WHERE session_id = %s ORDER BY created_ts, "
            "client_order_id", (session_id,))}

    def session_counts(self, session_id: str) -> dict[str, float]:
        row = self.conn.execute(
            "SELECT (SELECT count(*) FROM trading.orders WHERE session_id = %(s)s), "
            "(SELECT count(*) FROM trading.orders WHERE session_id = %(s)s AND status = 'REJECTED'), "
            "(SELECT count(*) FROM trading.fills WHERE session_id = %(s)s), "
            "(SELECT count(*) FROM trading.decisions WHERE session_id = %(s)s), "
            "(SELECT count(*) FROM trading.risk_events WHERE session_id = %(s)s AND kind = 'refusal'), "
            "(SELECT coalesce(max(drawdown), 0) FROM trading.positions WHERE session_id = %(s)s)",
            {"s": session_id}).fetchone()
        return dict(zip(("orders", "rejected", "fills", "decisions", "refusal_events", "max_drawdown"), row))

    # -- write-ahead: one statement each (one round trip, one commit) ------------------------------
    def record_decision(self, session_id: str, d: Decision) -> None:
        self.conn.execute(_DECISION_UPSERT, _decision_args(session_id, d))

    def record_order(self, session_id: str, order: Order, decision: Decision | None = None) -> None:
        """The order row — and the decision that sends it, when given — in one statement."""
        args = (order.client_order_id, session_id, order.symbol, order.qty, to_dt(order.created_ts),
                order.status.value)
        if decision is None:
            self.conn.execute(_ORDER_INSERT, args)
        else:
            self.conn.execute(f"WITH d AS ({_DECISION_UPSERT}) {_ORDER_INSERT}", _decision_args(session_id, decision)
                              + args)

    def record_fills(self, account: str, session_id: str, fills: Sequence[Fill], source: str) -> list[Fill]:
        """Insert the fills not booked before, in their order; returns those (the ones to book)."""
        rows = self.conn.execute(
            "INSERT INTO trading.fills (account, exec_id, session_id, client_order_id, symbol, qty, price, commission, "
            "ts, source) SELECT %s, f.exec_id, %s, nullif(f.coid, ''), f.symbol, f.qty, f.price, f.commission, "
            "f.ts, %s "
            "FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::float8[], %s::float8[], %s::timestamptz[]) "
            "WITH ORDINALITY AS f(exec_id, coid, symbol, qty, price, commission, ts, n) ORDER BY f.n "
            "ON CONFLICT (account, exec_id) DO NOTHING RETURNING exec_id",
            (account, session_id, source, [f.exec_id for f in fills], [f.client_order_id for f in fills],
             [f.symbol for f in fills], [f.qty for f in fills], [f.price for f in fills],
             [f.commission for f in fills], [to_dt(f.ts) for f in fills])).fetchall()
        new = {r[0] for r in rows}
        return [f for f in fills if f.exec_id in new]

    def update_orders(self, orders: Sequence[Order]) -> None:
        if orders:
            self.conn.cursor().executemany(
                "UPDATE trading.orders SET status = %s, filled_qty = %s, avg_fill_price = %s, reason = %s, "
                "updated_at = now() WHERE client_order_id = %s",
                [(o.status.value, o.filled_qty, o.avg_fill_price, o.reason, o.client_order_id) for o in orders])

    def mark_orders(self, client_order_ids: Sequence[str], status: OrderStatus, reason: str) -> None:
        if client_order_ids:
            self.conn.execute("UPDATE trading.orders SET status = %s, reason = %s, updated_at = now() "
                              "WHERE client_order_id = ANY(%s)", (status.value, reason, list(client_order_ids)))

    def add_events(self, session_id: str, events: Iterable[RiskEvent]) -> None:
        rows = [(session_id, to_dt(e.ts), e.kind, e.reason, e.symbol, e.detail) for e in events]
        if rows:
            self.conn.cursor().executemany(
                "INSERT INTO trading.risk_events (session_id, ts, kind, reason, symbol, detail) "
                "VALUES (%s, %s, %s, %s, %s, %s)", rows)

    def end_bar(self, session_id: str, snap: Snapshot, orders: Sequence[Order], events: Sequence[RiskEvent],
                decision: Decision | None = None) -> None:
        """Everything one bar changed, in one transaction (the decision with its latency, when there was one)."""
        with self.conn.transaction():
            if decision is not None:
                self.record_decision(session_id, decision)
            self.update_orders(orders)
            self.add_events(session_id, events)
            self.conn.execute(
                "INSERT INTO trading.positions (session_id, ts, cash, equity, daily_pnl, drawdown, held, working, "
                "prices, governor) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (session_id, ts) "
                "DO UPDATE SET cash = EXCLUDED.cash, equity = EXCLUDED.equity, daily_pnl = EXCLUDED.daily_pnl, "
                "drawdown = EXCLUDED.drawdown, held = EXCLUDED.held, working = EXCLUDED.working, "
                "prices = EXCLUDED.prices, governor = EXCLUDED.governor",
                (session_id, to_dt(snap.ts), snap.cash, snap.equity, snap.daily_pnl, snap.drawdown, Jsonb(snap.held),
                 Jsonb(snap.working), Jsonb(snap.prices), Jsonb(snap.governor)))

    # -- the service's pulse and its controls -----------------------------------------------------
    def heartbeat(self, account: str, session_id: str | None, pid: int, status: str, connected: bool,
                  governor_state: str | None, last_bar: int | None) -> None:
        self.conn.execute(
            "INSERT INTO trading.heartbeats (account, session_id, pid, status, broker_connected, governor_state, "
            "last_bar, at) VALUES (%s, %s, %s, %s, %s, %s, %s, now()) ON CONFLICT (account) DO UPDATE SET "
            "session_id = EXCLUDED.session_id, pid = EXCLUDED.pid, status = EXCLUDED.status, "
            "broker_connected = EXCLUDED.broker_connected, governor_state = EXCLUDED.governor_state, "
            "last_bar = EXCLUDED.last_bar, at = now()",
            (account, session_id, pid, status, connected, governor_state,
             None if last_bar is None else to_dt(last_bar)))

    def pending_controls(self, account: str) -> list[tuple[int, str]]:
        return self.conn.execute("SELECT id, command FROM trading.controls WHERE account = %s AND applied_at IS NULL "
                                 "ORDER BY id", (account,)).fetchall()

    def mark_control(self, control_id: int, result: str) -> None:
        self.conn.execute("UPDATE trading.controls SET applied_at = now(), result = %s WHERE id = %s",
                          (result, control_id))


# -- reads shared with the command line, which has no state of its own, only rows ----------------
def last_snapshot(conn: psycopg.Connection, account: str, session_id: str | None = None) -> Snapshot | None:
    """The newest snapshot of the account (of one session when given)."""
    where, args = ("p.session_id = %s", (session_id,)) if session_id else ("s.account = %s", (account,))
    row = conn.execute(
        "SELECT p.ts, p.cash, p.equity, p.daily_pnl, p.drawdown, p.held, p.working, p.prices, p.governor "
        f"FROM trading.positions p JOIN trading.sessions s USING (session_id) WHERE {where} "
        "ORDER BY p.ts DESC LIMIT 1", args).fetchone()
    return Snapshot(to_ns(row[0]), *row[1:]) if row else None


def live_accounts(conn: psycopg.Connection, within_s: float = 120.0) -> list[str]:
    """Accounts whose service beat within the last `within_s` seconds."""
    return [r[0] for r in conn.execute(
        "SELECT account FROM trading.heartbeats WHERE at > now() - make_interval(secs => %s) "
        "AND status <> 'stopped' ORDER BY account", (within_s,))]


def request_control(conn: psycopg.Connection, account: str, command: str) -> int:
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}: use one of {', '.join(COMMANDS)}")
    row = conn.execute("INSERT INTO trading.controls (account, command) VALUES (%s, %s) RETURNING id",
                       (account, command)).fetchone()
    conn.commit()
    return row[0]


def control_result(conn: psycopg.Connection, control_id: int) -> str | None:
    row = conn.execute("SELECT applied_at, result FROM trading.controls WHERE id = %s", (control_id,)).fetchone()
    conn.commit()
    return row[1] if row and row[0] else None


def service_status(conn: psycopg.Connection, account: str) -> dict | None:
    """The heartbeat, today's session and its last snapshot, as `ijules status` shows them."""
    hb = conn.execute(
        "SELECT session_id, pid, status, broker_connected, governor_state, last_bar, at, "
        "extract(epoch FROM now() - at) FROM trading.heartbeats WHERE account = %s", (account,)).fetchone()
    if hb is None:
        return None
    out = dict(zip(("session_id", "pid", "status", "broker_connected", "governor_state", "last_bar", "heartbeat_at",
                    "heartbeat_age_s"), hb))
    out["heartbeat_age_s"] = float(out["heartbeat_age_s"])
    last = last_snapshot(conn, account, out["session_id"]) if out["session_id"] else None
    if last:
        out.update(equity=last.equity, cash=last.cash, daily_pnl=last.daily_pnl, drawdown=last.drawdown,
                   positions=last.held, prices=last.prices, snapshot_at=to_dt(last.ts))
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM trading.orders WHERE session_id = %(s)s), "
        "(SELECT count(*) FROM trading.fills WHERE session_id = %(s)s), "
        "(SELECT count(*) FROM trading.decisions WHERE session_id = %(s)s)", {"s": out["session_id"]}).fetchone()
    out.update(orders=counts[0], fills=counts[1], decisions=counts[2])
    conn.commit()
    return out
