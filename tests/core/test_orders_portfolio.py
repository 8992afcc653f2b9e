import pytest

from ijules_core.brokers import BrokerError
from ijules_core.brokers.sim import SimBroker
from ijules_core.costs import CostModel
from ijules_core.orders import Fill, Order, OrderError, OrderStatus
from ijules_core.portfolio import Portfolio

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
    assert pf.pnl({"NVDA": 118.0, "MSFT": 1.0})["NVDA"] == {"realized": 60.0, "unrealized": 2.0, "commissions": 3.0}


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
