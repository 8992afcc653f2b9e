"""The broker as the paper trader's execution engine sees it: nothing sent or booked unwritten.

`submit` writes the order row before the broker hears of the order — with the first order of a
decision, the decision itself (`decision`, set by the trader before it decides); `new_fills` writes the
fills before handing them to the portfolio, and hands over only those never booked before
(the fill's `exec_id` is unique per account) — so a crash at any point leaves rows that say
at least as much as the portfolio knew, and a fill reaches the portfolio once.
"""

from __future__ import annotations

from collections.abc import Mapping

from ijules_core.brokers.base import Account
from ijules_core.orders import Fill, Order
from ijules_core.paper.store import Decision, TradingStore


class JournaledBroker:
    def __init__(self, broker, store: TradingStore, account: str, session_id: str) -> None:
        self.broker, self.store, self.account, self.session_id = broker, store, account, session_id
        self.name = broker.name
        self.decision: Decision | None = None  # written with the first order it sends

    @property
    def connected(self) -> bool:
        return self.broker.connected

    def submit(self, order: Order) -> Order:
        self.store.record_order(self.session_id, order, self.decision)
        self.decision = None
        return self.broker.submit(order)

    def cancel(self, client_order_id: str) -> None:
        self.broker.cancel(client_order_id)

    def new_fills(self) -> list[Fill]:
        fills = self.broker.new_fills()
        return self.store.record_fills(self.account, self.session_id, fills, "broker") if fills else fills

    def executions(self, since_ts: int = 0) -> list[Fill]:
        return self.broker.executions(since_ts)

    def positions(self) -> dict[str, int]:
        return self.broker.positions()

    def account(self) -> Account:
        return self.broker.account()

    def on_bar(self, ts: int, opens: Mapping[str, float]) -> None:
        self.broker.on_bar(ts, opens)
