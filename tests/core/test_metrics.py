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


def test_daily_returns_sortino_and_calmar_by_hand():
    daily = metrics.daily_returns([102.0, 99.96, 101.9592], start_equity=100.0)
    assert daily == pytest.approx([0.02, -0.02, 0.02])
    downside = math.sqrt((0 + 0.02**2 + 0) / 3)  # root mean square of the negative part, over all days
    assert metrics.sortino(daily) == pytest.approx((0.02 / 3) / downside * math.sqrt(252))
    assert metrics.sortino(np.array([0.01, 0.02])) == 0.0  # no downside: undefined, reported as 0
    # 10 % over 126 days (half a year) with a 5 % drawdown: (1.1² − 1) / 0.05
    assert metrics.calmar(0.10, 126, 0.05) == pytest.approx((1.1**2 - 1) / 0.05)
    assert metrics.calmar(0.10, 126, 0.0) == 0.0


def test_summary_takes_sharpe_from_day_ends_not_from_the_minute_curve():
    rng = np.random.default_rng(0)
    minutes = 10_000 * np.exp(np.cumsum(rng.normal(1e-5, 1e-3, 20 * 390)))  # 20 days of a minute curve
    day_end = minutes[389::390].tolist()
    s = metrics.summary(day_end, 10_000, minutes, 0.0, 0.0, [])
    assert s["sharpe"] == pytest.approx(metrics.sharpe(metrics.daily_returns(day_end, 10_000)))
    per_minute = np.diff(minutes) / minutes[:-1]
    assert s["sharpe"] != pytest.approx(per_minute.mean() / per_minute.std(ddof=1) * math.sqrt(252 * 390))
