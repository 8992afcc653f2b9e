"""The simulated broker as a venue that outlives the service: its books live in `trading.sim_*`.

A real venue keeps the orders it acknowledged and the fills it made when the trading
process dies; a `SimBroker` in the same process would lose them, and a crash test against
it would prove nothing. `DurableSimBroker` is the trading core's `SimBroker` (same fills,
slippage and commissions) that commits every acknowledgement, fill and cancel on its own
connection before it answers, and rebuilds itself from those rows when constructed — the
service's own tables are never read, so reconciliation compares two independent records.

Chaos is a function of what happens, not of process history, so a restarted venue behaves
as the one that died would have: whether an order is rejected is drawn from
(seed, order time, symbol); whether the link drops after a bar that filled orders — losing
those fills' reports on the wire, as a broker disconnect does — from (seed, bar time).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import psycopg

from ijules_core.brokers.base import BrokerError
from ijules_core.brokers.sim import SimBroker
from ijules_core.costs import CostModel
from ijules_core.orders import Fill, Order, OrderStatus
from ijules_core.paper.store import to_dt, to_ns


class DurableSimBroker(SimBroker):
    def __init__(self, conn: psycopg.Connection, account: str, symbols: Sequence[str], costs: CostModel = CostModel(),
                 cash: float = 10_000.0, reject_rate: float = 0.0, delay_bars: int = 0, seed: int = 0,
                 disconnect_rate: float = 0.0) -> None:
        """`conn`: the venue's own autocommit connection. `cash` only funds an account seen for the first time."""
        super().__init__(symbols, costs, cash, reject_rate, delay_bars, seed)
        if not 0.0 <= disconnect_rate <= 1.0:
            raise ValueError(f"disconnect_rate must be in [0, 1], got {disconnect_rate}")
        self.conn, self.account_id, self.seed, self.disconnect_rate = conn, account, seed, disconnect_rate
        # the venue's commits survive the trading process's death without waiting for the disk (the server
        # keeps them); only a database crash could cost the venue its last few hundred ms — a simulation's risk
        conn.execute("SET synchronous_commit = off")
        conn.execute("INSERT INTO trading.sim_accounts (account, initial_cash) VALUES (%s, %s) "
                     "ON CONFLICT (account) DO NOTHING", (account, cash))
        self.cash = conn.execute("SELECT initial_cash FROM trading.sim_accounts WHERE account = %s",
                                 (account,)).fetchone()[0]
        for coid, symbol, qty, created, status, filled, avg, reason, wait in conn.execute(
                "SELECT client_order_id, symbol, qty, created_ts, status, filled_qty, avg_fill_price, reason, "
                "wait_bars FROM trading.sim_orders WHERE account = %s ORDER BY seq", (account,)):
            order = Order(coid, symbol, qty, to_ns(created), OrderStatus(status), filled, avg, reason)
            self.orders[coid] = order
            if order.is_open:
                self._pending.append([order, wait])
        for coid, symbol, qty, price, commission, ts, exec_id, seq in conn.execute(
                "SELECT client_order_id, symbol, qty, price, commission, ts, exec_id, seq FROM trading.sim_fills "
                "WHERE account = %s ORDER BY seq", (account,)):
            self._fills.append(Fill(coid, symbol, qty, price, commission, to_ns(ts), exec_id))
            self._positions[symbol] += qty
            self.cash -= qty * price + commission
            self._exec_seq = seq

    def connect(self) -> None:
        self.connected = True

    def submit(self, order: Order) -> Order:
        if not self.connected:
            raise BrokerError(f"sim venue: not connected, order {order.client_order_id} not sent")
        if order.client_order_id in self.orders:
            return self.orders[order.client_order_id]
        self._rng = np.random.default_rng([self.seed, order.created_ts, zlib.crc32(order.symbol.encode())])
        super().submit(order)
        self.conn.execute(
            "INSERT INTO trading.sim_orders (account, client_order_id, seq, symbol, qty, created_ts, status, reason, "
            "wait_bars) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (self.account_id, order.client_order_id, len(self.orders), order.symbol, order.qty, to_dt(order.created_ts),
             order.status.value, order.reason, self.delay_bars))
        return order

    def cancel(self, client_order_id: str) -> None:
        super().cancel(client_order_id)
        self._save([self.orders[client_order_id]], [])

    def on_bar(self, ts: int, opens: Mapping[str, float]) -> None:
        """Fill what is due — never an order at a bar that opened before the order arrived (a restarted
        trader replays the bar it had not finished, whose decision's orders may already be here)."""
        early = [p for p in self._pending if p[0].created_ts > ts]
        self._pending = [p for p in self._pending if p[0].created_ts <= ts]
        if not self._pending:
            self._pending = early
            return
        touched = [p[0] for p in self._pending]
        before = len(self._fills)
        super().on_bar(ts, opens)
        self._pending += early
        fills = self._fills[before:]
        self._save(touched, fills)
        if fills and self.disconnect_rate and \
                np.random.default_rng([self.seed, ts, 1]).random() < self.disconnect_rate:
            self.connected, self._new = False, []  # the link drops: these fills' reports are lost on the wire

    def executions(self, since_ts: int = 0) -> list[Fill]:
        if not self.connected:
            raise BrokerError("sim venue: not connected")
        return super().executions(since_ts)

    def _save(self, orders: list[Order], fills: list[Fill]) -> None:
        """Order states and new fills in one statement (one round trip: this runs on the decision path)."""
        waits = {id(p[0]): p[1] for p in self._pending}
        self.conn.execute(
            "WITH u AS (UPDATE trading.sim_orders o SET status = x.status, filled_qty = x.filled, "
            "avg_fill_price = x.avg, reason = x.reason, wait_bars = x.wait FROM unnest(%s::text[], %s::text[], "
            "%s::int[], %s::float8[], %s::text[], %s::int[]) AS x(coid, status, filled, avg, reason, wait) "
            "WHERE o.account = %s AND o.client_order_id = x.coid) "
            "INSERT INTO trading.sim_fills (account, exec_id, seq, client_order_id, symbol, qty, price, commission, "
            "ts) "
            "SELECT %s, f.* FROM unnest(%s::text[], %s::int[], %s::text[], %s::text[], %s::int[], %s::float8[], "
            "%s::float8[], %s::timestamptz[]) AS f",
            ([o.client_order_id for o in orders], [o.status.value for o in orders], [o.filled_qty for o in orders],
             [o.avg_fill_price for o in orders], [o.reason for o in orders], [waits.get(id(o), 0) for o in orders],
             self.account_id, self.account_id, [f.exec_id for f in fills],
             [int(f.exec_id.rsplit("-", 1)[1]) for f in fills], [f.client_order_id for f in fills],
             [f.symbol for f in fills], [f.qty for f in fills], [f.price for f in fills],
             [f.commission for f in fills], [to_dt(f.ts) for f in fills]))
