"""A stand-in for TWS / IB Gateway behind a real ib_insync `IB` (the gateway cannot run here).

Only the socket is faked. `FakeClient` is ib_insync's own `Client` whose request methods are
answered from the gateway's books instead of being sent; everything the gateway says goes
into IB's real `Wrapper` — the code that turns TWS messages into ib_insync's events and
objects (`Trade`, `Fill`, `Execution`, `CommissionReport`, `Position`) — in the order the
decoder would call it. So `IB.connect`'s whole synchronisation, ib_insync's handling of
order errors, live versus requested executions and commission reports all run for real.

The message sequences (order accepted, (partial) fills, rejections, cancellations, the
connectivity codes 1100/1101/1102, data-farm codes 2103-2106, 326) follow the TWS API
documentation's message order and texts (interactivebrokers.github.io/tws-api/
message_codes.html, order_submission.html, executions_commissions.html): written from the
documentation, not captured from a live gateway.
"""

from __future__ import annotations

import datetime as dt

from ib_insync import IB, BarData, CommissionReport, ContractDetails, Execution, OrderState, Stock
from ib_insync.client import Client

MESSAGES = {
    201: "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY "
         "WITH LOAN VALUE [0.00 USD] MUST EXCEED THE INITIAL MARGIN [1000.00 USD]",
    202: "Order Canceled - reason:",
    326: "Unable to connect as the client id is already in use. Retry with a unique client id.",
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2103: "Market data farm connection is broken:usfarm",
    2104: "Market data farm connection is OK:usfarm",
    2105: "HMDS data farm connection is broken:ushmds",
    2106: "HMDS data farm connection is OK:ushmds",
}


class FakeGateway:
    def __init__(self, account: str = "DU1234567", cash: float = 1_000_000.0) -> None:
        self.account, self.cash = account, cash
        self.conids = {"NVDA": 4815747, "MSFT": 272093}
        self.ids_in_use: set[int] = set()
        self.refuse = False
        self.connects: list[int] = []  # client ids tried
        self.placed: dict[int, tuple] = {}  # order id → (contract, ib order)
        self.status: dict[int, str] = {}
        self.filled: dict[int, float] = {}
        self.cancel_requests: list[int] = []
        self.executions: list[tuple] = []  # (contract, Execution, CommissionReport)
        self.positions: dict[str, float] = {}
        self.realtime: dict[str, int] = {}  # symbol → real-time bar request id
        self.history: dict[str, list[BarData]] = {}
        self.next_order_id = 1
        self.client: FakeClient | None = None
        self._perm = 900_000

    def ib(self) -> IB:
        """A real `IB` talking to this gateway (a fresh one per process: a restart is a new `ib()`)."""
        ib = IB()
        self.client = ib.client = FakeClient(ib.wrapper, self)
        ib.client.apiEnd += ib.disconnectedEvent
        return ib

    @property
    def up(self) -> bool:
        return self.client is not None and self.client.isReady()

    def contract(self, symbol: str) -> Stock:
        return Stock(symbol, "SMART", "USD", conId=self.conids[symbol], primaryExchange="NASDAQ")

    def send(self, *messages) -> None:
        """Messages to the client, if it is connected: (wrapper method, args…)."""
        if self.up:
            for name, *args in messages:
                getattr(self.client.wrapper, name)(*args)

    # -- recorded sequences --------------------------------------------------------------------
    def error(self, code: int, req_id: int = -1) -> None:
        self.send(("error", req_id, code, MESSAGES[code], ""))

    def _status(self, order_id: int, status: str, last_price: float = 0.0, avg: float = 0.0):
        contract, order = self.placed[order_id]
        filled = self.filled.get(order_id, 0.0)
        self.status[order_id] = status
        return ("orderStatus", order_id, status, filled, order.totalQuantity - filled, avg, order.permId, 0,
                last_price, order.clientId, "", 0.0)

    def accept(self, order_id: int) -> None:
        """openOrder, then PreSubmitted → Submitted: the gateway took the order."""
        contract, order = self.placed[order_id]
        self._perm += 1
        order.permId = self._perm
        self.send(("openOrder", order_id, contract, order, OrderState(status="PreSubmitted")),
                  self._status(order_id, "PreSubmitted"), self._status(order_id, "Submitted"))

    def fill(self, order_id: int, shares: float, price: float, when: dt.datetime, commission: float = 1.0) -> str:
        """An execution at IB; its messages reach the client only if connected (else: reqExecutions later)."""
        contract, order = self.placed[order_id]
        self.filled[order_id] = self.filled.get(order_id, 0.0) + shares
        side = "BOT" if order.action == "BUY" else "SLD"
        exec_id = f"0000e0d5.6567{len(self.executions):04d}.01.01"
        execution = Execution(execId=exec_id, time=when, acctNumber=self.account, exchange="ISLAND", side=side,
                              shares=shares, price=price, permId=order.permId, clientId=order.clientId,
                              orderId=order_id, cumQty=self.filled[order_id], avgPrice=price,
                              orderRef=order.orderRef)
        report = CommissionReport(execId=exec_id, commission=commission, currency="USD")
        self.executions.append((contract, execution, report))
        symbol = contract.symbol
        self.positions[symbol] = self.positions.get(symbol, 0.0) + (shares if side == "BOT" else -shares)
        done = self.filled[order_id] >= order.totalQuantity
        self.send(("execDetails", -1, contract, execution), ("commissionReport", report),
                  self._status(order_id, "Filled" if done else "Submitted", price, price),
                  ("position", self.account, contract, self.positions[symbol], price))
        return exec_id

    def reject(self, order_id: int, code: int = 201) -> None:
        """TWS refuses the order with an error on its id (ib_insync cancels the trade, the error in its log)."""
        self.status[order_id] = "Cancelled"
        self.error(code, req_id=order_id)

    def confirm_cancel(self, order_id: int) -> None:
        self.send(("error", order_id, 202, MESSAGES[202], ""), self._status(order_id, "Cancelled"))

    def drop(self) -> None:
        """The socket closes (gateway restart, network)."""
        self.client._onSocketDisconnected("")

    def realtime_bar(self, symbol: str, when: dt.datetime, o: float, h: float, lo: float, c: float, v: float):
        self.send(("realtimeBar", self.realtime[symbol], int(when.timestamp()), o, h, lo, c, v, c, 10))


class FakeClient(Client):
    """ib_insync's `Client` with the socket replaced by `FakeGateway`."""

    def __init__(self, wrapper, gateway: FakeGateway) -> None:
        super().__init__(wrapper)
        self.gateway = gateway

    async def connectAsync(self, host, port, clientId, timeout=2.0):
        g = self.gateway
        g.connects.append(int(clientId))
        if g.refuse:
            raise ConnectionRefusedError(111, f"Connect call failed ('{host}', {port})")
        if int(clientId) in g.ids_in_use:  # TWS answers 326, then closes the socket
            self.wrapper.error(-1, 326, MESSAGES[326], "")
            raise ConnectionError("Socket disconnect")
        self.host, self.port, self.clientId = host, int(port), int(clientId)
        self.connState, self._apiReady, self._serverVersion = Client.CONNECTED, True, 176
        self._accounts, self._reqIdSeq = [g.account], g.next_order_id
        self.wrapper.managedAccounts(g.account)  # sent by TWS at the handshake, with the next valid order id
        self.apiStart.emit()

    def disconnect(self):
        self.connState = Client.DISCONNECTED
        self.reset()

    def placeOrder(self, orderId, contract, order):
        self.gateway.placed[orderId] = (contract, order)
        self.gateway.status[orderId] = "PendingSubmit"
        self.gateway.next_order_id = orderId + 1

    def cancelOrder(self, orderId, manualCancelOrderTime=""):
        self.gateway.cancel_requests.append(orderId)

    def reqPositions(self):
        g = self.gateway
        for symbol, qty in g.positions.items():
            self.wrapper.position(g.account, g.contract(symbol), qty, 0.0)
        self.wrapper.positionEnd()

    def _open_orders(self):
        g = self.gateway
        for order_id, (contract, order) in g.placed.items():
            if g.status[order_id] not in ("Filled", "Cancelled"):
                self.wrapper.openOrder(order_id, contract, order, OrderState(status=g.status[order_id]))
        self.wrapper.openOrderEnd()

    reqOpenOrders = reqAllOpenOrders = _open_orders

    def reqCompletedOrders(self, apiOnly):
        self.wrapper.completedOrdersEnd()

    def reqAccountUpdates(self, subscribe, acctCode):
        self.wrapper.accountDownloadEnd(acctCode)

    def reqAccountUpdatesMulti(self, reqId, account, modelCode, ledgerAndNLV):
        self.wrapper.accountUpdateMultiEnd(reqId)

    def reqExecutions(self, reqId, execFilter):
        for contract, execution, report in self.gateway.executions:
            self.wrapper.execDetails(reqId, contract, execution)
            self.wrapper.commissionReport(report)
        self.wrapper.execDetailsEnd(reqId)

    def reqContractDetails(self, reqId, contract):
        if contract.symbol in self.gateway.conids:
            self.wrapper.contractDetails(reqId, ContractDetails(contract=self.gateway.contract(contract.symbol)))
        self.wrapper.contractDetailsEnd(reqId)

    def reqAccountSummary(self, reqId, groupName, tags):
        g = self.gateway
        for tag, value in (("TotalCashValue", g.cash), ("NetLiquidation", g.cash)):
            self.wrapper.accountSummary(reqId, g.account, tag, str(value), "USD")
        self.wrapper.accountSummaryEnd(reqId)

    def reqRealTimeBars(self, reqId, contract, barSize, whatToShow, useRTH, realTimeBarsOptions):
        self.gateway.realtime[contract.symbol] = reqId

    def cancelRealTimeBars(self, reqId):
        pass

    def reqHistoricalData(self, reqId, contract, endDateTime, durationStr, barSizeSetting, whatToShow, useRTH,
                          formatDate, keepUpToDate, chartOptions):
        for bar in self.gateway.history.get(contract.symbol, []):
            self.wrapper.historicalData(reqId, bar)
        self.wrapper.historicalDataEnd(reqId, "", "")
