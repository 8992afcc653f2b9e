import math

import numpy as np
import pytest

from ijules_core import metrics


def test_sharpe_uses_daily_returns_and_sqrt_252():
    daily = np.array([0.01, -0.005, 0.002, 0.004])
    expected = daily.mean() / daily.std(ddof=1) * math.sqrt(252)
    assert metrics.sharpe(daily) == pytest.approx(expected)
    assert metrics.sharpe(np.array([0.01])) == 0.0


def test_drawdown_calmar_and_trades():
    assert metrics.max_drawdown(np.array([100, 120, 90, 130, 117])) == pytest.approx(0.25)
    stats = metrics.trade_stats([10, -5, 5, -5])
    assert stats == {"trades": 4, "win_rate": 0.5, "profit_factor": 1.5}
    s = metrics.summary([101.0, 99.0, 102.0], 100.0, [100.5, 101.0, 98.0, 99.0, 102.0], fees=1.0,
                        traded_value=500.0, round_trip_pnl=[3.0, -1.0])
    assert s["total_return"] == pytest.approx(0.02) and s["days"] == 3 and s["turnover"] == 5.0
    assert s["max_drawdown"] == pytest.approx(3 / 101)
    assert s["sharpe"] == pytest.approx(metrics.sharpe(np.array([0.01, 99 / 101 - 1, 102 / 99 - 1])))
