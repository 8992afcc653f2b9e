"""A simulated broker: market orders fill at the next bar's open ± slippage.

An order submitted at the close of bar t fills at the open of bar t+1 (or `delay_bars`
later). Chaos for tests and demos: a seeded share of orders is rejected on submission.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ijules_core.brokers.base import Account, BrokerError
from ijules_core.costs import CostModel
from ijules_core.orders import CANCELLED, REJECTED, SUBMITTED, Fill, Order


class SimBroker:
    name = "sim"

    def __init__(
        self,
        symbols: Sequence[str],
        costs: CostModel = CostModel(),
        cash: float = 10_000.0,
        reject_rate: float = 0.0,
        delay_bars: int = 0,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= reject_rate <= 1.0:
            raise ValueError(f"reject_rate must be in [0, 1], got {reject_rate}")
        if delay_bars < 0:
            raise ValueError(f"delay_bars must be >= 0, got {delay_bars}")
        self.symbols = list(symbols)
        self.costs = costs
        self.cash = float(cash)
        self.reject_rate = reject_rate
        self.delay_bars = delay_bars
        self._rng = np.random.default_rng(seed)
        self.orders: dict[str, Order] = {}
        self._pending: list[list] = []  # [order, bars to wait]
        self._positions = dict.fromkeys(self.symbols, 0)
        self._fills: list[Fill] = []
        self._new: list[Fill] = []
        self._exec_seq = 0
        self.connected = True

    def submit(self, order: Order) -> Order:
        known = self.orders.get(order.client_order_id)
        if known is not None:
            return known
        if order.symbol not in self._positions:
            raise BrokerError(f"sim broker: unknown symbol {order.symbol!r}")
        self.orders[order.client_order_id] = order
        if self.reject_rate and self._rng.random() < self.reject_rate:
            order.move(REJECTED, order.created_ts, "chaos: rejected by the simulated venue")
            return order
        order.move(SUBMITTED, order.created_ts)
        self._pending.append([order, self.delay_bars])
        return order

    def cancel(self, client_order_id: str) -> None:
        order = self.orders.get(client_order_id)
        if order is None:
            raise BrokerError(f"sim broker: no order {client_order_id!r}")
        if order.is_open:
            order.move(CANCELLED, order.history[-1][1], "cancelled by client")
            self._pending = [p for p in self._pending if p[0] is not order]

    def on_bar(self, ts: int, opens: Mapping[str, float]) -> None:
        if not self._pending:
            return
        costs, waiting = self.costs, []
        for item in self._pending:
            order, wait = item
            if wait > 0:
                item[1] = wait - 1
                waiting.append(item)
                continue
            symbol, qty = order.symbol, order.remaining
            price = costs.fill_price(qty, opens[symbol])
            commission = costs.commission(qty, price)
            self._exec_seq += 1
            fill = Fill(order.client_order_id, symbol, qty, price, commission, ts, f"sim-{self._exec_seq}")
            order.record_fill(fill)
            self._positions[symbol] += qty
            self.cash -= qty * price + commission
            self._fills.append(fill)
            self._new.append(fill)
        self._pending = waiting

    def new_fills(self) -> list[Fill]:
        out, self._new = self._new, []
        return out

    def executions(self, since_ts: int = 0) -> list[Fill]:
        return [f for f in self._fills if f.ts >= since_ts]

    def positions(self) -> dict[str, int]:
        return dict(self._positions)

    def account(self) -> Account:
        return Account(cash=self.cash)
