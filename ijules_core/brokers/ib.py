"""Interactive Brokers through ib_insync (or ib_async, its maintained fork with the same API).

Market orders (DAY) carry the client order id as `orderRef`, so IB's own records name them
after a restart: on every (re)connection the broker asks IB for all open orders and for
the day's executions (`reqExecutions`), adopts the orders it does not know and books the
fills it missed — a fill made while the link was down is found there, never lost. Order
states and fills arrive through ib_insync's events; a fill is booked once its commission
report is in (or after `commission_wait_s`, with the cost model's estimate).

IB's connection messages (https://interactivebrokers.github.io/tws-api/message_codes.html):
1100 the gateway lost IB — no order can route until 1101/1102 restore it, after which the
broker resynchronises before it trades again; 2103/2105 a market/historical data farm is
broken, 2104/2106 it is OK (informational: kept in `data_farms`); 326 the client id is in
use — the next attempt takes the next id. An order IB refuses (201 and its kin) comes back
cancelled with the error in its log: REJECTED here, with IB's message as the reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence

import pandas as pd

try:
    import ib_insync as ibapi
except ImportError:  # pragma: no cover - the fork keeps the API
    import ib_async as ibapi

from ijules_core.brokers.base import Account, BrokerError
from ijules_core.costs import CostModel
from ijules_core.orders import Fill, Order, OrderError, OrderStatus

log = logging.getLogger(__name__)

LINK_LOST, LINK_RESTORED_DATA_LOST, LINK_RESTORED = 1100, 1101, 1102
FARM_BROKEN, FARM_OK = {2103, 2105}, {2104, 2106}
CLIENT_ID_IN_USE = 326
_DEAD = {"Cancelled", "ApiCancelled", "Inactive"}


class IBBroker:
    name = "ib"

    def __init__(self, symbols: Sequence[str], host: str = "127.0.0.1", port: int = 7497, client_id: int = 17,
                 account: str = "", ib=None, timeout_s: float = 10.0, exchange: str = "SMART",
                 currency: str = "USD", costs: CostModel = CostModel(), commission_wait_s: float = 2.0) -> None:
        self.ib = ib if ib is not None else ibapi.IB()
        self.symbols = list(symbols)
        self.host, self.port, self.client_id, self.account_id = host, port, client_id, account
        self.timeout_s, self.costs, self.commission_wait_s = timeout_s, costs, commission_wait_s
        self.contracts = {s: ibapi.Stock(s, exchange, currency) for s in self.symbols}
        self.orders: dict[str, Order] = {}
        self.data_farms: dict[str, bool] = {}
        self._trades: dict[str, object] = {}  # client order id → ib Trade
        self._fills: dict[str, Fill] = {}  # exec id → booked fill
        self._pending: dict[str, tuple[object, float]] = {}  # exec id → (ib Fill, first seen), awaiting commission
        self._new: list[Fill] = []
        self._link_up = False  # the gateway's own link to IB (1100 / 1101 / 1102)
        self._resync = False  # the link came back: learn what happened before trading again
        self._id_in_use = False
        # strong references: the broker lives as long as its `IB` (eventkit's weak ones, once dead, still get
        # called unbound when a cycle was collected without their callback — "missing argument 'self'")
        for event, handler in ((self.ib.orderStatusEvent, self._on_status), (self.ib.execDetailsEvent, self._on_exec),
                               (self.ib.commissionReportEvent, self._on_commission),
                               (self.ib.errorEvent, self._on_error), (self.ib.disconnectedEvent, self._on_disconnected)):
            event.connect(handler, keep_ref=True)

    # -- connection -------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.ib.isConnected() and self._link_up and not self._resync

    def connect(self) -> None:
        """One attempt to be ready to trade (the caller retries with backoff): socket, contracts, resync."""
        if not self.ib.isConnected():
            self._id_in_use = False
            try:
                self.ib.connect(self.host, self.port, clientId=self.client_id, timeout=self.timeout_s,
                                account=self.account_id)
            except (ConnectionError, OSError, asyncio.TimeoutError) as exc:
                if self._id_in_use:
                    self.client_id += 1
                    raise BrokerError(f"IB client id {self.client_id - 1} is in use (326): next attempt uses "
                                      f"{self.client_id}") from exc
                raise BrokerError(f"cannot connect to IB at {self.host}:{self.port}: {type(exc).__name__}: {exc} "
                                  "— is TWS / IB Gateway running with the API port open?") from exc
            self._link_up, self._resync = True, True
            self.account_id = self.account_id or self.ib.managedAccounts()[0]
            qualified = self.ib.qualifyContracts(*self.contracts.values())
            unknown = [c.symbol for c in self.contracts.values() if not c.conId]
            if unknown or len(qualified) != len(self.contracts):
                raise BrokerError(f"IB does not know the contract(s) {unknown}")
        if not self._link_up:
            self.ib.sleep(1.0)  # IB restores its link by itself: let its messages in
            if not self._link_up:
                raise BrokerError("IB gateway is up but has lost its connection to IB (1100)")
        if self._resync:
            self._sync()
            self._resync = False

    def _sync(self) -> None:
        """What IB knows that this process may not: open orders of every client and the day's executions."""
        for trade in [*self.ib.reqAllOpenOrders(), *self.ib.trades()]:
            self._adopt(trade)
        for fill in self.ib.reqExecutions(ibapi.ExecutionFilter(acctCode=self.account_id)):
            self._seen(fill)
        self._book_pending(force=True)

    def _adopt(self, trade) -> None:
        coid, symbol = trade.order.orderRef, trade.contract.symbol
        if not coid or symbol not in self.contracts:
            return
        self._trades[coid] = trade
        if coid not in self.orders:
            qty = int(trade.order.totalQuantity) * (1 if trade.order.action == "BUY" else -1)
            self.orders[coid] = Order(coid, symbol, qty, _decided_at(coid), OrderStatus.SUBMITTED)
        self._on_status(trade)

    # -- events -----------------------------------------------------------------------------------
    def _on_error(self, req_id: int, code: int, message: str, contract=None) -> None:
        if code == LINK_LOST:
            self._link_up = False
            log.warning("IB %s: %s", code, message)
        elif code in (LINK_RESTORED, LINK_RESTORED_DATA_LOST):
            self._link_up, self._resync = True, True
            log.warning("IB %s: %s", code, message)
        elif code in FARM_BROKEN or code in FARM_OK:
            self.data_farms[message.rsplit(":", 1)[-1]] = code in FARM_OK
        elif code == CLIENT_ID_IN_USE:
            self._id_in_use = True

    def _on_disconnected(self) -> None:
        self._link_up = False

    def _on_status(self, trade) -> None:
        order = self.orders.get(trade.order.orderRef)
        status = trade.orderStatus.status
        if order is None or not order.is_open or status not in _DEAD:
            return
        errors = [e for e in trade.log if e.errorCode]
        now = time.time_ns()
        if order.filled_qty == 0 and (errors or status == "Inactive"):
            order.move(OrderStatus.REJECTED, now, errors[-1].message if errors else "IB: order inactive")
        else:
            order.move(OrderStatus.CANCELLED, now, "cancelled at IB")

    def _on_exec(self, trade, fill) -> None:
        self._seen(fill)

    def _on_commission(self, trade, fill, report) -> None:
        self._seen(fill)
        self._book_pending()  # its commission is known: book it now

    def _seen(self, fill) -> None:
        exec_id = fill.execution.execId
        if exec_id not in self._fills and exec_id not in self._pending and fill.contract.symbol in self.contracts:
            self._pending[exec_id] = (fill, time.monotonic())

    def _book_pending(self, force: bool = False) -> None:
        """Book the fills whose commission is known (or, with `force` or after the wait, estimated)."""
        now = time.monotonic()
        for exec_id, (fill, seen) in list(self._pending.items()):
            report = fill.commissionReport
            if report.execId != exec_id and not force and now - seen < self.commission_wait_s:
                continue
            del self._pending[exec_id]
            ex = fill.execution
            qty = int(ex.shares) * (1 if ex.side == "BOT" else -1)
            commission = report.commission if report.execId == exec_id else self.costs.commission(qty, ex.price)
            booked = Fill(ex.orderRef, fill.contract.symbol, qty, ex.price, commission, pd.Timestamp(ex.time).value,
                          exec_id)
            self._fills[exec_id] = booked
            self._new.append(booked)
            order = self.orders.get(ex.orderRef)
            if order is not None:
                try:
                    order.record_fill(booked)
                except OrderError as exc:  # e.g. an order cancelled at IB whose last fill was in flight
                    log.error("IB fill %s does not fit its order: %s", exec_id, exc)

    # -- the Broker protocol -----------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        known = self.orders.get(order.client_order_id)
        if known is not None:
            return known
        if not self.connected:
            raise BrokerError(f"IB: not connected, order {order.client_order_id} not sent")
        ib_order = ibapi.MarketOrder("BUY" if order.qty > 0 else "SELL", abs(order.qty), orderRef=order.client_order_id,
                                     tif="DAY", account=self.account_id)
        self._trades[order.client_order_id] = self.ib.placeOrder(self.contracts[order.symbol], ib_order)
        order.move(OrderStatus.SUBMITTED, order.created_ts)
        self.orders[order.client_order_id] = order
        return order

    def cancel(self, client_order_id: str) -> None:
        trade = self._trades.get(client_order_id)
        if trade is None:
            raise BrokerError(f"IB: no order {client_order_id!r}")
        if self.orders[client_order_id].is_open and self.ib.isConnected():
            self.ib.cancelOrder(trade.order)

    def new_fills(self) -> list[Fill]:
        self._book_pending()
        out, self._new = self._new, []
        return out

    def executions(self, since_ts: int = 0) -> list[Fill]:
        if not self.ib.isConnected():
            raise BrokerError("IB: not connected")
        for fill in self.ib.reqExecutions(ibapi.ExecutionFilter(acctCode=self.account_id)):
            self._seen(fill)
        self._book_pending(force=True)
        return sorted((f for f in self._fills.values() if f.ts >= since_ts), key=lambda f: f.ts)

    def positions(self) -> dict[str, int]:
        out = dict.fromkeys(self.symbols, 0)
        for p in self.ib.positions(self.account_id):
            if p.contract.symbol in out:
                out[p.contract.symbol] += int(p.position)
        return out

    def account(self) -> Account:
        values = {v.tag: v.value for v in self.ib.accountSummary(self.account_id) if v.currency in ("USD", "")}
        if "TotalCashValue" not in values:
            raise BrokerError(f"IB account summary of {self.account_id!r} has no TotalCashValue")
        equity = values.get("NetLiquidation")
        return Account(float(values["TotalCashValue"]), float(equity) if equity else None)

    def on_bar(self, ts: int, opens: Mapping[str, float]) -> None:
        """A real venue fills on its own; the bar is a moment to let IB's messages in."""
        if self.ib.isConnected():
            self.ib.sleep(0)


def _decided_at(client_order_id: str) -> int:
    """The decision time an engine's client order id carries (`<prefix>-<ns>-<symbol>`); now for others."""
    parts = client_order_id.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else time.time_ns()
