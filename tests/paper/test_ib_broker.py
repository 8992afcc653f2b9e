"""The Interactive Brokers broker against a fake gateway behind the real ib_insync `IB` (see fake_ib.py)."""

import datetime as dt
import gc

import pandas as pd
import pytest
from paper_data import DAY, SYMBOLS, WARMUP
from fake_ib import FakeGateway
from ib_insync import BarData

from ijules_core.brokers.base import BrokerError
from ijules_core.brokers.ib import IBBroker
from ijules_core.orders import Order, OrderStatus
from ijules_core.paper.service import Service, ServiceOptions
from ijules_core.paper.sources import IBRealTimeFeed
from ijules_core.paper.store import TradingStore
from ijules_core.paper.stream import minutes_from_bars
from ijules_core.paper.trader import PaperConfig, PaperTrader
from ijules_core.policy import MovingAveragePolicy
from ijules_core.store.bars import read_bars
from ijules_core.store.db import connect

T0 = dt.datetime(2025, 11, 24, 15, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def collect_ib_cycles():
    """A dropped `IB` (IB ↔ Wrapper cycles, eventkit weakref callbacks) collected in the middle of a later
    compile() trips CPython 3.11.7's AST recursion-depth check (python/cpython#106905, fixed in 3.11.8):
    collect each test's at its end. (A service keeps its one `IB` for life.)"""
    yield
    gc.collect()


def connected(gateway: FakeGateway) -> IBBroker:
    broker = IBBroker(SYMBOLS, ib=gateway.ib())
    broker.connect()
    return broker


def test_connect_takes_the_next_client_id_when_326_says_it_is_in_use():
    gateway = FakeGateway()
    gateway.ids_in_use = {17}
    broker = IBBroker(SYMBOLS, ib=gateway.ib())
    with pytest.raises(BrokerError, match=r"client id 17 is in use \(326\): next attempt uses 18"):
        broker.connect()
    broker.connect()
    assert broker.connected and gateway.connects == [17, 18]
    assert {s: c.conId for s, c in broker.contracts.items()} == gateway.conids  # qualified
    assert broker.account_id == "DU1234567" and broker.account().cash == 1_000_000.0


def test_refused_connection_names_the_gateway():
    gateway = FakeGateway()
    gateway.refuse = True
    with pytest.raises(BrokerError, match="cannot connect to IB at 127.0.0.1:7497.*API port"):
        IBBroker(SYMBOLS, ib=gateway.ib()).connect()


def test_a_market_order_is_filled_in_parts_through_events_with_ib_commissions():
    gateway = FakeGateway()
    broker = connected(gateway)
    order = broker.submit(Order("acct-1-NVDA", "NVDA", 3, 1))
    order_id, (contract, ib_order) = next(iter(gateway.placed.items()))
    assert (ib_order.orderRef, ib_order.action, ib_order.totalQuantity, ib_order.orderType, ib_order.tif) == \
        ("acct-1-NVDA", "BUY", 3, "MKT", "DAY") and contract.conId == gateway.conids["NVDA"]
    assert broker.submit(Order("acct-1-NVDA", "NVDA", 3, 1)) is order and len(gateway.placed) == 1  # idempotent
    gateway.accept(order_id)
    gateway.fill(order_id, 1, 480.0, T0, commission=1.0)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    gateway.fill(order_id, 2, 481.0, T0, commission=1.02)
    fills = broker.new_fills()
    assert [(f.qty, f.price, f.commission) for f in fills] == [(1, 480.0, 1.0), (2, 481.0, 1.02)]
    assert fills[0].ts == pd.Timestamp(T0).value and fills[0].client_order_id == "acct-1-NVDA"
    assert order.status is OrderStatus.FILLED and order.avg_fill_price == pytest.approx(480 + 2 / 3)
    assert broker.new_fills() == [] and broker.positions() == {"NVDA": 3, "MSFT": 0}


def test_rejected_and_cancelled_orders():
    gateway = FakeGateway()
    broker = connected(gateway)
    rejected = broker.submit(Order("acct-1-NVDA", "NVDA", 1, 1))
    gateway.reject(max(gateway.placed))  # error 201 on the order id
    assert rejected.status is OrderStatus.REJECTED and "201" in rejected.reason and "NOT ACCEPTED" in rejected.reason
    cancelled = broker.submit(Order("acct-2-MSFT", "MSFT", -1, 2))
    gateway.accept(max(gateway.placed))
    broker.cancel("acct-2-MSFT")
    assert gateway.cancel_requests == [max(gateway.placed)]
    gateway.confirm_cancel(max(gateway.placed))  # 202, then orderStatus Cancelled
    assert cancelled.status is OrderStatus.CANCELLED


def test_link_codes_and_data_farms():
    gateway = FakeGateway()
    broker = connected(gateway)
    gateway.error(1100)  # the gateway lost IB: nothing can route
    assert not broker.connected
    with pytest.raises(BrokerError, match="not connected"):
        broker.submit(Order("acct-1-NVDA", "NVDA", 1, 1))
    with pytest.raises(BrokerError, match=r"lost its connection to IB \(1100\)"):
        broker.connect()
    gateway.error(1102)  # restored: still not ready until it has resynchronised
    assert not broker.connected
    broker.connect()
    assert broker.connected
    for code in (2103, 2105):
        gateway.error(code)
    assert broker.data_farms == {"usfarm": False, "ushmds": False}
    for code in (2104, 2106):
        gateway.error(code)
    assert broker.data_farms == {"usfarm": True, "ushmds": True} and broker.connected


def test_a_fill_made_while_disconnected_is_found_by_reqexecutions_and_booked_once():
    gateway = FakeGateway()
    broker = connected(gateway)
    order = broker.submit(Order("acct-1-MSFT", "MSFT", -2, 1))
    gateway.accept(max(gateway.placed))
    gateway.drop()
    assert not broker.connected
    gateway.fill(max(gateway.placed), 2, 400.0, T0, commission=1.0)  # at IB, while we are away
    assert broker.new_fills() == []
    broker.connect()  # reqAllOpenOrders + reqExecutions
    assert order.status is OrderStatus.FILLED
    assert [(f.qty, f.price) for f in broker.new_fills()] == [(-2, 400.0)]
    assert len(broker.executions(0)) == 1 and broker.new_fills() == []  # asking again books nothing twice
    assert broker.positions() == {"NVDA": 0, "MSFT": -2}


def test_a_restarted_process_adopts_its_orders_by_order_ref():
    gateway = FakeGateway()
    first = connected(gateway)
    first.submit(Order("acct-1-NVDA", "NVDA", 1, 1))
    gateway.accept(max(gateway.placed))
    gateway.drop()  # the process dies; the order lives on at IB
    restarted = connected(gateway)
    known = restarted.orders["acct-1-NVDA"]
    assert known.status is OrderStatus.SUBMITTED and known.qty == 1 and known.created_ts == 1  # from the id
    assert restarted.submit(Order("acct-1-NVDA", "NVDA", 1, 1)) is known and len(gateway.placed) == 1


def test_the_paper_trader_on_ib_survives_a_dropped_socket_and_a_restart(market_url):
    gateway = FakeGateway(cash=10_000.0)
    store = TradingStore(connect(market_url, autocommit=True))
    history = read_bars(store.conn, SYMBOLS, WARMUP[0], WARMUP[-1])
    minutes = minutes_from_bars(read_bars(store.conn, SYMBOLS, DAY, DAY))[:90]
    config = PaperConfig(account="ibpaper")

    def trader_for(broker):
        return PaperTrader(store, broker, MovingAveragePolicy(), DAY, config, history, reconnect=broker.connect)

    def fill_open_orders_at(minute):  # IB fills market orders at the next bar's open
        for order_id, (contract, order) in list(gateway.placed.items()):
            if gateway.status[order_id] == "Submitted":
                gateway.fill(order_id, order.totalQuantity - gateway.filled.get(order_id, 0),
                             minute.bars[contract.symbol].open, dt.datetime.fromtimestamp(minute.ts / 1e9, dt.UTC))

    broker = connected(gateway)
    trader = trader_for(broker)
    dropped = restarted = False
    for i, minute in enumerate(minutes):
        working = {o.orderRef for oid, (_, o) in gateway.placed.items() if gateway.status[oid] == "Submitted"}
        if i >= 60 and working and not restarted:  # a fresh process while an order is working at IB
            broker = connected(gateway)
            trader = trader_for(broker)
            assert {o.client_order_id for o in trader.engine.open_orders} == working  # adopted by orderRef
            restarted = True
        fill_open_orders_at(minute)
        trader.on_minute(minute)
        for order_id in gateway.placed:
            if gateway.status[order_id] == "PendingSubmit":
                gateway.accept(order_id)
        if not dropped and i > 5 and any(s == "Submitted" for s in gateway.status.values()):
            gateway.drop()  # the next fill happens while the socket is down
            dropped = True
    assert dropped and restarted
    with connect(market_url) as conn:
        booked = dict(conn.execute("SELECT source, count(*) FROM trading.fills GROUP BY 1").fetchall())
        events = [r[0] for r in conn.execute("SELECT reason FROM trading.risk_events")]
        statuses = dict(conn.execute("SELECT status, count(*) FROM trading.orders GROUP BY 1").fetchall())
    assert sum(booked.values()) == len(gateway.executions) > 4 and booked["reconcile"] >= 1
    assert "broker disconnected" in events and "broker reconnected and reconciled" in events
    assert statuses.get("FILLED") == len(gateway.placed) - statuses.get("SUBMITTED", 0)
    assert trader.portfolio.quantities() == broker.positions() == {s: int(gateway.positions.get(s, 0)) for s in SYMBOLS}


def test_real_time_bars_become_one_minute_bars():
    gateway = FakeGateway()
    broker = connected(gateway)
    now = [T0.timestamp() + 62]
    feed = IBRealTimeFeed(broker.ib, broker.contracts, DAY, clock=lambda: now[0])
    assert set(gateway.realtime) == set(SYMBOLS)
    for k in range(12):  # 15:00:00 … 15:00:55, both symbols
        when = T0 + dt.timedelta(seconds=5 * k)
        gateway.realtime_bar("NVDA", when, 480 + k, 481 + k, 479 + k, 480.5 + k, 100)
        gateway.realtime_bar("MSFT", when, 400, 400.5, 399.5, 400.25, 50)
    minute = feed.next_minute(0)
    assert minute.ts == pd.Timestamp(T0).value
    assert minute.bars["NVDA"] == (480, 492, 479, 491.5, 1200)
    assert minute.bars["MSFT"] == (400, 400.5, 399.5, 400.25, 600)
    gateway.realtime_bar("NVDA", T0 + dt.timedelta(minutes=1), 490, 491, 489, 490.5, 10)  # MSFT silent
    gateway.realtime_bar("NVDA", T0 + dt.timedelta(minutes=2), 490, 491, 489, 490.5, 10)
    assert feed.next_minute(0) is None  # 15:01 waits for MSFT…
    now[0] += 60 + 11  # … until the grace has passed
    late = feed.next_minute(0)
    assert late.ts == pd.Timestamp(T0).value + 60 * 10**9 and set(late.bars) == {"NVDA"}
    gateway.drop()
    broker.connect()  # a new connection subscribes again
    assert set(gateway.realtime) == set(SYMBOLS)


def test_ib_history_gives_todays_bars_for_the_warm_up():
    gateway = FakeGateway()
    broker = connected(gateway)
    for symbol in SYMBOLS:
        gateway.history[symbol] = [BarData(date=str(int(T0.timestamp()) + 60 * k), open=100, high=101, low=99,
                                           close=100.5, volume=1000, average=100.2, barCount=12) for k in range(3)]
    feed = IBRealTimeFeed(broker.ib, broker.contracts, DAY, clock=lambda: T0.timestamp() + 200)
    bars = feed.history(pd.Timestamp(T0).value + 120 * 10**9)  # the minutes closed by 15:02
    assert len(bars) == 4 and set(bars["symbol"]) == set(SYMBOLS)
    assert bars["ts"].min() == pd.Timestamp(T0) and bars["close"].eq(100.5).all()


def test_the_service_reconnects_with_exponential_backoff(market_url):
    gateway = FakeGateway()
    gateway.ids_in_use = {17, 18}  # a stale session holds two client ids
    service = Service(ServiceOptions(broker="ib", replay=DAY, metrics_port=None), market_url)
    service.store = TradingStore(connect(market_url, autocommit=True))
    service.broker, waits = IBBroker(SYMBOLS, ib=gateway.ib()), []
    service.sleep = waits.append
    service.connect_broker(give_up_s=None)
    assert service.broker.connected and gateway.connects == [17, 18, 19] and waits == [0.5, 1.0]
    with connect(market_url) as conn:
        assert conn.execute("SELECT status FROM trading.heartbeats").fetchone()[0] == "reconnecting"
