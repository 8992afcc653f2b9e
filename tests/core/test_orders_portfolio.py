import pytest

from ijules_core.brokers import BrokerError
from ijules_core.brokers.sim import SimBroker
from ijules_core.costs import CostModel
from ijules_core.orders import Fill, Order, OrderError, OrderStatus
from ijules_core.execution import ExecutionEngine
from ijules_core.portfolio import Portfolio
from ijules_core.risk import RiskConfig, RiskGovernor

FREE = CostModel(slippage_bps=0, commission_per_share=0, min_commission=0, max_commission_pct=0)


def test_lifecycle_moves_and_illegal_moves():
    o = Order("c1", "NVDA", 5, 1)
    o.move(OrderStatus.SUBMITTED, 2)
    o.record_fill(Fill("c1", "NVDA", 2, 100.0, 0.0, 3, "e1"))
    assert o.status is OrderStatus.PARTIALLY_FILLED and o.remaining == 3
    o.record_fill(Fill("c1", "NVDA", 3, 102.0, 0.0, 4, "e2"))
    assert o.status is OrderStatus.FILLED and o.avg_fill_price == pytest.approx(101.2)
    assert [s for s, _ in o.history] == ["NEW", "SUBMITTED", "PARTIALLY_FILLED", "FILLED"]
    with pytest.raises(OrderError, match="FILLED → CANCELLED"):
        o.move(OrderStatus.CANCELLED, 5)
    with pytest.raises(OrderError, match="does not fit"):
        Order("c2", "NVDA", -2, 1).record_fill(Fill("c2", "NVDA", 1, 1.0, 0.0, 1, "x"))
    with pytest.raises(OrderError, match="non-zero integer"):
        Order("c3", "NVDA", 0, 1)


def test_position_average_cost_realised_and_flip():
    pf = Portfolio(["NVDA", "MSFT"], cash=1_000.0)
    pf.apply_fill(Fill("a", "NVDA", 2, 100.0, 1.0, 1, "1"))
    pf.apply_fill(Fill("b", "NVDA", 2, 110.0, 1.0, 2, "2"))
    pos = pf.positions["NVDA"]
    assert (pos.qty, pos.avg_cost) == (4, 105.0)
    assert pf.apply_fill(Fill("c", "NVDA", -5, 120.0, 1.0, 3, "3")) == pytest.approx(4 * 15.0)
    assert (pos.qty, pos.avg_cost) == (-1, 120.0)  # flipped short at the fill price
    assert pf.cash == pytest.approx(1_000 - 200 - 220 + 600 - 3)
    assert pf.equity({"NVDA": 118.0, "MSFT": 1.0}) == pytest.approx(pf.cash - 118.0)
    assert pf.pnl({"NVDA": 118.0, "MSFT": 1.0})["NVDA"] == {"realized": 60.0, "unrealized": 2.0, "commissions": 3.0,
                                                           "net": 59.0}
    assert pf.mark(10, {"NVDA": 118.0, "MSFT": 1.0}) == pf.equity({"NVDA": 118.0, "MSFT": 1.0})
    pf.mark(11, {"NVDA": 100.0, "MSFT": 1.0})
    assert pf.curve_ts == [10, 11] and pf.curve == pytest.approx([pf.cash - 118.0, pf.cash - 100.0])
    assert pf.equity({"NVDA": 118.0, "MSFT": 1.0}) == pytest.approx(1_000 + 59.0)  # start + net P&L


def test_ib_like_commission_and_slippage():
    c = CostModel(slippage_bps=2.0)
    assert c.commission(1, 480.0) == 1.0  # the $1 minimum
    assert c.commission(500, 10.0) == 2.5  # 0.005 × 500
    assert c.commission(1, 50.0) == 0.5  # capped at 1 % of value
    assert c.fill_price(+1, 100.0) == pytest.approx(100.02) and c.fill_price(-1, 100.0) == pytest.approx(99.98)
    with pytest.raises(ValueError, match="slippage_bps"):
        CostModel(slippage_bps=-1)


def test_sim_broker_fills_at_next_open_and_resubmission_is_idempotent():
    b = SimBroker(["NVDA", "MSFT"], costs=FREE)
    order = b.submit(Order("ij-1-NVDA", "NVDA", 3, 10))
    assert b.submit(Order("ij-1-NVDA", "NVDA", 3, 10)) is order  # same client id: the known order
    assert b.new_fills() == []
    b.on_bar(20, {"NVDA": 101.0, "MSFT": 50.0})
    (fill,) = b.new_fills()
    assert (fill.qty, fill.price, fill.ts) == (3, 101.0, 20)
    assert b.positions() == {"NVDA": 3, "MSFT": 0} and order.status is OrderStatus.FILLED
    assert b.executions(since_ts=21) == [] and b.executions(since_ts=20) == [fill]


def test_sim_broker_delay_rejection_and_bad_symbol():
    b = SimBroker(["NVDA", "MSFT"], costs=FREE, delay_bars=1)
    b.submit(Order("x", "NVDA", 1, 0))
    b.on_bar(1, {"NVDA": 1.0, "MSFT": 1.0})
    assert b.new_fills() == []
    b.on_bar(2, {"NVDA": 2.0, "MSFT": 1.0})
    assert [f.price for f in b.new_fills()] == [2.0]
    chaos = SimBroker(["NVDA", "MSFT"], reject_rate=1.0)
    assert chaos.submit(Order("y", "NVDA", 1, 0)).status is OrderStatus.REJECTED
    with pytest.raises(BrokerError, match="unknown symbol 'AAPL'"):
        b.submit(Order("z", "AAPL", 1, 0))
    with pytest.raises(ValueError, match="reject_rate"):
        SimBroker(["NVDA"], reject_rate=1.5)


def _engine(broker):
    return ExecutionEngine(["NVDA", "MSFT"], broker, Portfolio(["NVDA", "MSFT"]),
                           RiskGovernor(RiskConfig(), ["NVDA", "MSFT"]))


def test_engine_resubmitting_a_decision_is_a_no_op():
    broker = SimBroker(["NVDA", "MSFT"], costs=FREE)
    engine = _engine(broker)
    prices = {"NVDA": 100.0, "MSFT": 50.0}
    (order,) = engine.decide(60, 5, prices, 300)  # 5 = HOLD NVDA, BUY MSFT
    assert order.client_order_id == "ij-60-MSFT" and engine.working == {"NVDA": 0, "MSFT": 1}
    assert broker.submit(Order("ij-60-MSFT", "MSFT", 1, 60)) is order  # a restarted service resubmits
    engine.on_bar(120, prices)
    assert engine.portfolio.quantities() == broker.positions() == {"NVDA": 0, "MSFT": 1}


def test_engine_never_orders_a_slow_fill_twice_and_cancels():
    broker = SimBroker(["NVDA", "MSFT"], costs=FREE, delay_bars=2)
    engine = _engine(broker)
    prices = {"NVDA": 100.0, "MSFT": 50.0}
    engine.decide(60, 7, prices, 300)  # BUY NVDA
    engine.on_bar(120, prices)
    engine.decide(120, 7, prices, 300)  # BUY again: on top of the open order, not instead of it
    assert engine.working["NVDA"] == 2 and [o.qty for o in engine.open_orders] == [1, 1]
    engine.on_bar(180, prices)
    engine.on_bar(240, prices)
    assert engine.portfolio.qty("NVDA") == 1 and len(engine.open_orders) == 1
    engine.cancel_open_orders()
    assert engine.working["NVDA"] == 1 and not engine.open_orders
    assert broker.orders["ij-120-NVDA"].status is OrderStatus.CANCELLED


def test_a_rejected_order_gives_the_order_budget_back():
    broker = SimBroker(["NVDA", "MSFT"], costs=FREE, reject_rate=1.0)
    engine = _engine(broker)
    (a, b) = engine.decide(60, 8, {"NVDA": 100.0, "MSFT": 50.0}, 300)
    assert a.status is b.status is OrderStatus.REJECTED and "chaos" in a.reason
    assert engine.governor.orders_today == 0 and engine.working == {"NVDA": 0, "MSFT": 0}


def test_adopted_orders_count_in_the_working_position_and_the_next_proposal():
    """A restarted trader hands the engine the orders its broker still has open: no order is sent twice."""
    broker = SimBroker(["NVDA", "MSFT"], costs=FREE, delay_bars=5)
    prices = {"NVDA": 100.0, "MSFT": 50.0}
    first = _engine(broker)
    first.decide(60, 7, prices, 300)  # BUY NVDA, still open when the process dies
    restarted = _engine(broker)
    assert restarted.working == {"NVDA": 0, "MSFT": 0}
    restarted.adopt([o for o in broker.orders.values() if o.is_open])
    assert restarted.working == {"NVDA": 1, "MSFT": 0}
    (order,) = restarted.decide(120, 7, prices, 300)  # BUY again: the target is 2, on top of the adopted 1
    assert order.qty == 1 and restarted.working == {"NVDA": 2, "MSFT": 0}
