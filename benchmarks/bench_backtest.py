"""Backtest speed on one year of two-symbol minute bars (≈ 98k steps).

Three loops over the same MarketData in the same run: the backtester with a rule policy
(moving average), the backtester with a RecurrentPPO policy (SB3 default architecture,
untrained weights — speed does not depend on training), and as the baseline a plain
Python loop that reads the same arrays and does nothing else.
    .venv/bin/python benchmarks/bench_backtest.py
"""

from __future__ import annotations

import time

import pandas as pd

from ijules_core import calendar
from ijules_core.backtest import replay
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.env import DualTickerTradingEnv, EnvConfig
from ijules_core.features import MarketData
from ijules_core.policy import MovingAveragePolicy, SB3Policy


def one_year() -> MarketData:
    src = SyntheticSource()
    days = calendar.sessions("2025-01-02", "2025-12-31")
    return MarketData.from_bars(pd.concat([src.fetch(["NVDA", "MSFT"], d) for d in days], ignore_index=True),
                                ["NVDA", "MSFT"])


def plain_loop(data: MarketData) -> float:
    feats, close, opens = data.features.reshape(data.n_bars, -1), data.close.tolist(), data.open.tolist()
    start, acc = time.perf_counter(), 0.0
    for t in range(data.n_bars - 1):
        row = feats[t]
        acc += close[t][0] - opens[t + 1][1] + float(row[0])
    return (data.n_bars - 1) / (time.perf_counter() - start)


def timed_replay(data: MarketData, policy) -> float:
    start = time.perf_counter()
    replay(data, policy)
    return data.n_bars / (time.perf_counter() - start)


def main() -> None:
    data = one_year()
    from sb3_contrib import RecurrentPPO

    model = RecurrentPPO("MlpLstmPolicy", DualTickerTradingEnv(data, EnvConfig()), seed=0, device="cpu")
    rule = timed_replay(data, MovingAveragePolicy())
    rppo = timed_replay(data, SB3Policy(model, "rppo"))
    base = plain_loop(data)
    print(f"{data.n_bars:,} bars ({len(data.days)} sessions)")
    print(f"backtest, moving-average rule: {rule:,.0f} steps/s")
    print(f"backtest, RecurrentPPO (numpy actor): {rppo:,.0f} steps/s")
    print(f"plain loop over the arrays: {base:,.0f} steps/s")
    print(f"RESULT rule_steps_per_s={rule:.0f} rppo_steps_per_s={rppo:.0f} baseline_steps_per_s={base:.0f}")


if __name__ == "__main__":
    main()
