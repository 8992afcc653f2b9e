"""Environment speed: DualTickerTradingEnv with random actions vs a trivial env with the same spaces.

Both envs run the same loop — `env.step(env.action_space.sample())`, resetting when an
episode ends — in the same process, three times interleaved, best run kept, so the ratio
is what our step costs beyond the cheapest possible env. The trivial env only returns a
fresh zero observation. Ours runs its default configuration (governor, simulated broker,
portfolio); with random actions the default loss limits soon stop trading for the day, so
the share of steps that fill an order is printed, and a second configuration with the
limits lifted shows the cost of the trading path itself.

    .venv/bin/python benchmarks/bench_env.py [--steps 200000]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import pandas as pd

from ijules_core import calendar
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.env import DualTickerTradingEnv, EnvConfig
from ijules_core.features import MarketData
from ijules_core.risk import RiskConfig
from null_env import NullEnv  # benchmarks/ is on sys.path when a script here runs


def steps_per_second(env: gym.Env, steps: int) -> float:
    env.reset(seed=0)
    env.action_space.seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        if env.step(env.action_space.sample())[3]:
            env.reset()
    return steps / (time.perf_counter() - start)


def share_of_steps_that_filled(env: DualTickerTradingEnv, episodes: int = 20) -> float:
    filled = steps = 0
    for episode in range(episodes):
        env.reset(seed=episode)
        done = False
        while not done:
            done = env.step(env.action_space.sample())[3]
        filled += len({f.ts for f in env.portfolio.fills})
        steps += env.config.episode_length
    return filled / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200_000, help="steps per run (3 runs per env)")
    steps = ap.parse_args().steps
    src = SyntheticSource()
    bars = pd.concat([src.fetch(["NVDA", "MSFT"], d) for d in calendar.sessions("2025-09-02", "2025-11-28")])
    data = MarketData.from_bars(bars, ["NVDA", "MSFT"])
    default = DualTickerTradingEnv(data)
    loose = RiskConfig(max_notional=1e6, max_gross=2e6, daily_loss_limit=1e12, max_drawdown=1e12,
                       max_orders_per_day=10**9, max_orders_per_minute=10)
    lifted = DualTickerTradingEnv(data, EnvConfig(risk=loose))
    trivial = NullEnv()
    runs = [[steps_per_second(env, steps) for env in (default, lifted, trivial)] for _ in range(3)]
    ours, trading, baseline = (max(r) for r in zip(*runs))  # best of 3 interleaved runs: load hits all alike
    print(f"DualTickerTradingEnv, default config: {ours:,.0f} steps/s ({data.n_bars:,} bars, random actions, "
          f"{share_of_steps_that_filled(default):.0%} of steps fill an order)")
    print(f"DualTickerTradingEnv, limits lifted:  {trading:,.0f} steps/s "
          f"({share_of_steps_that_filled(lifted):.0%} of steps fill an order)")
    print(f"trivial env (same spaces, zeros):     {baseline:,.0f} steps/s")
    print(f"RESULT steps_per_s={ours:.0f} baseline_steps_per_s={baseline:.0f} ratio={ours / baseline:.3f}")


if __name__ == "__main__":
    main()
