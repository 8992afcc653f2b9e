"""Performance metrics from an equity curve and its trades.

Sharpe and Sortino come from DAILY returns annualised with √252 — never from per-minute
returns scaled by minutes in a year, which overstates them wildly for intraday books.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

TRADING_DAYS = 252


def daily_returns(equity_by_day_end: Sequence[float], start_equity: float) -> np.ndarray:
    """Returns of each day from the previous day's closing equity (the first from `start_equity`)."""
    eq = np.asarray([start_equity, *equity_by_day_end], dtype=np.float64)
    return eq[1:] / eq[:-1] - 1.0


def sharpe(daily: np.ndarray) -> float:
    if len(daily) < 2 or np.std(daily, ddof=1) == 0:
        return 0.0
    return float(np.mean(daily) / np.std(daily, ddof=1) * math.sqrt(TRADING_DAYS))


def sortino(daily: np.ndarray) -> float:
    downside = np.minimum(daily, 0.0)
    dd = math.sqrt(float(np.mean(downside**2))) if len(daily) else 0.0
    return float(np.mean(daily) / dd * math.sqrt(TRADING_DAYS)) if dd > 0 else 0.0


def max_drawdown(equity: np.ndarray) -> float:
    """Largest fall from a running peak, as a positive fraction of that peak."""
    equity = np.asarray(equity, dtype=np.float64)
    if len(equity) == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    return float(np.max((peak - equity) / peak))


def calmar(total_return: float, n_days: int, mdd: float) -> float:
    if mdd <= 0 or n_days <= 0:
        return 0.0
    annual = (1 + total_return) ** (TRADING_DAYS / n_days) - 1
    return float(annual / mdd)


def trade_stats(round_trip_pnl: Sequence[float]) -> dict[str, float]:
    """Win rate and profit factor of closed trades (realised P&L per closing fill)."""
    pnl = np.asarray(round_trip_pnl, dtype=np.float64)
    wins, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    return {
        "trades": int(len(pnl)),
        "win_rate": float((pnl > 0).mean()) if len(pnl) else 0.0,
        "profit_factor": float(wins / losses) if losses > 0 else (math.inf if wins > 0 else 0.0),
    }


def summary(equity_by_day_end: Sequence[float], start_equity: float, intraday_equity: Sequence[float],
            fees: float, traded_value: float, round_trip_pnl: Sequence[float]) -> dict[str, float]:
    """The metrics a report shows, from daily closing equity, the bar-by-bar curve and the trades."""
    daily = daily_returns(equity_by_day_end, start_equity)
    end = equity_by_day_end[-1] if len(equity_by_day_end) else start_equity
    total = end / start_equity - 1.0
    curve = np.asarray([start_equity, *intraday_equity], dtype=np.float64)
    mdd = max_drawdown(curve)
    pnl = end - start_equity
    return {
        "total_return": float(total),
        "pnl": float(pnl),
        "sharpe": sharpe(daily),
        "sortino": sortino(daily),
        "max_drawdown": mdd,
        "calmar": calmar(total, len(daily), mdd),
        "fees": float(fees),
        "fee_ratio": float(fees / abs(pnl + fees)) if pnl + fees else 0.0,
        "turnover": float(traded_value / start_equity),
        "days": int(len(daily)),
        **trade_stats(round_trip_pnl),
    }
