"""The governor alone, layer by layer, then as part of the one execution path over many sessions."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ijules_core import calendar
from ijules_core.brokers.sim import SimBroker
from ijules_core.costs import CostModel
from ijules_core.execution import ExecutionConfig, ExecutionEngine
from ijules_core.portfolio import Portfolio
from ijules_core.risk import GovernorState, RiskConfig, RiskGovernor

S = ["NVDA", "MSFT"]
P = {"NVDA": 100.0, "MSFT": 50.0}
FLAT = {"NVDA": 0, "MSFT": 0}
MIN = 60_000_000_000


def gov(**kw) -> RiskGovernor:
    return RiskGovernor(RiskConfig(**kw), S)


def test_notional_gross_and_correlation_caps():
    g = gov(max_notional=1_000, max_gross=1_500)
    out = g.review(0, {"NVDA": 15, "MSFT": 30}, FLAT, P, 10_000, 300)
    assert out["NVDA"] * 100 <= 1_000 and out["MSFT"] * 50 <= 1_000
    assert out["NVDA"] * 100 + out["MSFT"] * 50 <= 1_500
    correlated = gov(max_notional=1_000, corr_scale=0.5).review(MIN, {"NVDA": 10, "MSFT": 0}, FLAT, P, 10_000, 300,
                                                              correlation=0.9)
    assert correlated["NVDA"] == 5
    assert {e.reason for e in g.events} == {"max_notional", "max_gross"}
    assert g.review(2 * MIN, FLAT, FLAT, P, 10_000, 300) is FLAT  # nothing asked, nothing held: no work


def test_a_repeated_refusal_is_counted_every_time_and_recorded_once():
    g = gov()
    g.halt(0)
    for minute in range(1, 6):
        g.review(minute * MIN, {"NVDA": 1, "MSFT": -1}, FLAT, P, 10_000, 300)
    assert g.refusals == 10
    assert [(e.kind, e.reason, e.symbol) for e in g.events] == [
        ("state", "kill switch", None), ("refusal", "halted", "NVDA"), ("refusal", "halted", "MSFT")]
    g.reset(6 * MIN)
    g.halt(7 * MIN)
    g.review(8 * MIN, {"NVDA": 1, "MSFT": 0}, FLAT, P, 10_000, 300)
    assert g.events[-1] == (8 * MIN, "refusal", "halted", "NVDA", "target 1 -> 0")  # a new halt is news again


def test_loss_layer_reducing_with_hysteresis_then_halt_and_flatten():
    g = gov(daily_loss_limit=50, reduce_at=0.8, resume_at=0.5)
    g.start_session(0, 10_000)
    assert g.review(MIN, {"NVDA": 3, "MSFT": 0}, {"NVDA": 2, "MSFT": 0}, P, 9_955, 300)["NVDA"] == 2  # loss 45: REDUCING
    assert g.state is GovernorState.REDUCING
    assert g.review(2 * MIN, {"NVDA": 1, "MSFT": 0}, {"NVDA": 2, "MSFT": 0}, P, 9_970, 300)["NVDA"] == 1  # shrinking passes
    g.review(3 * MIN, {"NVDA": 1, "MSFT": 0}, {"NVDA": 1, "MSFT": 0}, P, 9_970, 300)
    assert g.state is GovernorState.REDUCING  # loss 30 > 25: hysteresis keeps it reducing
    g.review(4 * MIN, {"NVDA": 1, "MSFT": 0}, {"NVDA": 1, "MSFT": 0}, P, 9_980, 300)
    assert g.state is GovernorState.ACTIVE  # loss 20 <= 25
    out = g.review(5 * MIN, {"NVDA": 3, "MSFT": 1}, {"NVDA": 1, "MSFT": 0}, P, 9_949, 300)
    assert g.state is GovernorState.HALTED and out == FLAT
    g.start_session(10 * MIN, 9_949)  # a daily-loss halt ends with the day
    assert g.state is GovernorState.ACTIVE


def test_drawdown_halt_needs_a_person():
    g = gov(max_drawdown=100, daily_loss_limit=1_000)
    g.start_session(0, 10_000)
    g.review(MIN, FLAT, FLAT, P, 9_899, 300)
    assert g.state is GovernorState.HALTED
    g.start_session(2 * MIN, 9_899)
    assert g.state is GovernorState.HALTED
    g.reset(3 * MIN)
    g.review(4 * MIN, FLAT, FLAT, P, 9_899, 300)
    assert g.state is GovernorState.ACTIVE  # the person accepted the loss: the drawdown counts from here
    g.review(5 * MIN, FLAT, FLAT, P, 9_799, 300)
    assert g.state is GovernorState.HALTED


def test_production_layer_close_staleness_latency_kill_switch():
    g = gov()
    held = {"NVDA": 2, "MSFT": -1}
    assert g.review(0, {"NVDA": 3, "MSFT": -2}, held, P, 10_000, 5) == FLAT  # 15:55: flatten
    assert g.review(MIN, {"NVDA": 3, "MSFT": 0}, held, P, 10_000, 10) == {"NVDA": 2, "MSFT": 0}  # last 15 min
    assert g.review(2 * MIN, {"NVDA": 3, "MSFT": -2}, held, P, 10_000, 200, bar_age_minutes=5) == held
    assert g.review(3 * MIN, {"NVDA": 3, "MSFT": -2}, held, P, 10_000, 200, latency_ms=5_000) == held
    g.halt(4 * MIN)
    assert g.review(5 * MIN, {"NVDA": 3, "MSFT": 0}, held, P, 10_000, 200) == FLAT
    reasons = [e.reason for e in g.events]
    assert "flatten before the close" in reasons and "kill switch" in reasons
    assert any(r.startswith("stale data") for r in reasons) and any(r.startswith("slow decision") for r in reasons)


def test_order_budget_always_keeps_enough_to_flatten():
    g = gov(max_orders_per_day=4, max_orders_per_minute=2)
    pos = dict(FLAT)
    for minute in range(1, 6):  # a policy that wants to churn
        want = {"NVDA": minute % 2 + 1, "MSFT": minute % 2 + 1}
        pos = g.review(minute * MIN, want, pos, P, 10_000, 200)
    assert g.orders_today + sum(1 for q in pos.values() if q) <= 4
    assert g.review(9 * MIN, pos, pos, P, 10_000, 5) == FLAT  # the close: still enough budget
    assert g.orders_today <= 4


@pytest.mark.parametrize("bad", [{"max_notional": -1}, {"daily_loss_limit": -5}, {"max_orders_per_day": -1},
                                 {"reduce_at": 0.3, "resume_at": 0.5}, {"corr_scale": 0}])
def test_nonsense_configs_are_refused(bad):
    with pytest.raises(ValueError, match="RiskConfig"):
        RiskConfig(**bad)


# --- property: ≥ 10,000 generated sessions through the one execution path ---------------------------

SESSION_DAYS = [
    dt.date(2025, 3, 7), dt.date(2025, 3, 10),  # around the spring DST change (US clocks move 2025-03-09)
    dt.date(2025, 10, 31), dt.date(2025, 11, 3),  # around the autumn change (2025-11-02)
    dt.date(2025, 11, 28), dt.date(2025, 12, 24), dt.date(2025, 7, 3),  # early closes
    dt.date(2025, 6, 18),
]
SESSIONS_PER_EXAMPLE = 25
EXAMPLES = 400  # 400 × 25 = 10,000 sessions


def _session_ts(day: dt.date, bars: int) -> list[int]:
    """The last `bars` minutes of the session (the close is where the governor earns its keep)."""
    minutes = calendar.session_minutes(day)[-bars:]
    return minutes.as_unit("ns").asi8.tolist()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    day=st.sampled_from(SESSION_DAYS),
    bars=st.integers(8, 40),
    long_only=st.booleans(),
    max_notional=st.floats(100, 3_000),
    orders_per_day=st.integers(2, 20),
    loss_limit=st.floats(1, 100),
)
def test_no_limit_is_ever_exceeded_and_every_session_ends_flat(seed, day, bars, long_only, max_notional,
                                                                 orders_per_day, loss_limit):
    rng = np.random.default_rng(seed)
    config = RiskConfig(max_notional=max_notional, max_gross=1.5 * max_notional, max_orders_per_day=orders_per_day,
                        max_orders_per_minute=2, daily_loss_limit=loss_limit, max_drawdown=2 * loss_limit,
                        long_only=long_only)
    ts = _session_ts(day, bars)
    close_ns = int(calendar.session_close(day).as_unit("ns").value)
    for _ in range(SESSIONS_PER_EXAMPLE):
        broker = SimBroker(S, CostModel())
        engine = ExecutionEngine(S, broker, Portfolio(S, 10_000.0), RiskGovernor(config, S),
                                 ExecutionConfig(unit_shares=int(rng.integers(1, 4)), max_units=5, long_only=long_only))
        price = {"NVDA": rng.uniform(20, 900), "MSFT": rng.uniform(20, 900)}
        engine.governor.start_session(ts[0], engine.portfolio.equity(price))
        for i, t in enumerate(ts):
            closes = {s: p * float(np.exp(rng.normal(0, 0.01))) for s, p in price.items()}
            mtc = (close_ns - t) / 60e9 - 1
            positions = engine.portfolio.quantities()
            engine.decide(t + 60_000_000_000, int(rng.integers(9)), closes, mtc)
            approved, g = engine.working, engine.governor  # what the book holds once the orders fill
            assert all(abs(q) * closes[s] <= config.max_notional + 1e-9 for s, q in approved.items())
            assert sum(abs(q) * closes[s] for s, q in approved.items()) <= config.max_gross + 1e-9
            assert g.orders_today <= config.max_orders_per_day and g.orders_this_minute <= config.max_orders_per_minute
            if long_only:
                assert min(approved.values()) >= 0
            if g.state is GovernorState.HALTED or mtc <= config.flatten_minutes:
                assert all(q == 0 for q in approved.values())
            if g.state is GovernorState.REDUCING:
                assert all(abs(q) <= abs(positions[s]) for s, q in approved.items())
            price = {s: c * float(np.exp(rng.normal(0, 0.002))) for s, c in closes.items()}
            if i + 1 < len(ts):
                engine.on_bar(ts[i + 1], price)
        engine.on_bar(close_ns, price)  # the orders of the last decision fill no later than the closing print
        assert engine.portfolio.is_flat(), f"{day} ended with {engine.portfolio.quantities()}"
        assert broker.positions() == engine.portfolio.quantities()
