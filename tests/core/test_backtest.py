import datetime as dt

import pytest
from core_data import SYMBOLS, synthetic_bars

from ijules_core.backtest import BacktestConfig, completeness_of, replay, rolling_windows, run_backtest
from ijules_core.costs import CostModel
from ijules_core.env import EnvConfig
from ijules_core.features import MarketData
from ijules_core.policy import FlatPolicy, MovingAveragePolicy

DAY = "2025-11-26"


class Script:
    """Actions by bar index within the session; HOLD otherwise. Counts resets (session starts)."""

    name = "script"

    def __init__(self, actions):
        self.actions, self.t, self.resets = actions, 0, 0

    def reset(self):
        self.resets += 1
        self.t = 0

    def act(self, obs):
        a = self.actions.get(self.t, 4)
        self.t += 1
        return a, 1.0


def test_replay_matches_a_hand_computed_ledger():
    data = MarketData.from_bars(synthetic_bars(DAY, DAY), SYMBOLS)
    costs = CostModel(slippage_bps=2.0)  # commission: $1 minimum per order
    result = replay(data, Script({0: 8, 2: 1}), EnvConfig(costs=costs))  # buy both; then sell NVDA
    o = data.open
    flatten_bar = int((data.minutes_to_close <= 5).argmax())  # 15:55 decision
    expected = [  # (bar filled at, symbol, qty, price)
        (1, "NVDA", 1, o[1, 0] * 1.0002), (1, "MSFT", 1, o[1, 1] * 1.0002),
        (3, "NVDA", -1, o[3, 0] * 0.9998),
        (flatten_bar + 1, "MSFT", -1, o[flatten_bar + 1, 1] * 0.9998),
    ]
    got = [(int(list(data.ts).index(f.ts)), f.symbol, f.qty, f.price) for f in result.fills]
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    assert [g[3] for g in got] == pytest.approx([e[3] for e in expected], abs=1e-9)
    cash = 10_000 - sum(q * p for _, _, q, p in expected) - 4 * 1.0
    assert result.engine.portfolio.cash == pytest.approx(cash, abs=1e-9)
    assert result.day_end_equity == [pytest.approx(cash, abs=1e-9)]  # flat at the close: equity is cash
    nvda_pnl = expected[2][3] - expected[0][3]
    msft_pnl = expected[3][3] - expected[1][3]
    assert result.realized == pytest.approx([nvda_pnl, msft_pnl], abs=1e-9)


def test_policy_is_reset_every_session_and_ends_flat():
    data = MarketData.from_bars(synthetic_bars("2025-11-24", "2025-11-28"), SYMBOLS)
    policy = Script({0: 8})
    result = replay(data, policy)
    assert policy.resets == 4
    assert result.engine.portfolio.is_flat() and len(result.day_end_equity) == 4
    assert len(result.fills) == 4 * 4  # each session: 2 buys, 2 flattens


def test_rolling_windows_with_a_failed_window_and_gates():
    as_of = dt.date(2025, 11, 28)
    assert [len(w) for w in rolling_windows(as_of, 5, 3)] == [3, 3, 3]
    bars = synthetic_bars("2025-11-20", "2025-11-28")

    def load(days):
        if dt.date(2025, 11, 24) == days[0]:
            raise LookupError("no bars for 2025-11-24 (QC blocked)")
        sub = bars[bars.ts.dt.tz_convert("America/New_York").dt.date.isin(days)]
        data = MarketData.from_bars(sub, SYMBOLS)
        return data, completeness_of(data, days)

    result = run_backtest(as_of, load, MovingAveragePolicy, BacktestConfig(lookback_days=5, window_size=3))
    assert [w.ok for w in result.windows] == [True, False, True]
    assert "QC blocked" in result.windows[1].reason
    assert result.windows[0].metrics["completeness"] == 1.0
    assert result.gate_results["windows_succeeded"] is False  # 2/3 < 70 %
    assert not result.passed and result.summary()["windows_ok"] == 2


def test_incomplete_data_fails_the_window():
    bars = synthetic_bars("2025-11-24", "2025-11-26")
    thin = bars[bars.ts.dt.minute % 2 == 0]  # half the minutes

    def load(days):
        data = MarketData.from_bars(thin, SYMBOLS)
        return data, completeness_of(data, days)

    result = run_backtest(dt.date(2025, 11, 26), load, FlatPolicy, BacktestConfig(lookback_days=3, window_size=3))
    (window,) = result.windows
    assert not window.ok and "completeness 50%" in window.reason
