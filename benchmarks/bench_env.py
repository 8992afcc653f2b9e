"""Environment speed: DualTickerTradingEnv with random actions vs a trivial env with the same spaces.

Both envs run the same loop — `env.step(env.action_space.sample())`, resetting when an episode
ends — in the same process, in alternating rounds (ours, then the trivial env). The ratio is the
median of the rounds' ratios, so a slow moment of a shared machine weighs on both sides of a
round alike; its quartiles are printed too. The trivial env only returns a fresh zero
observation. Ours runs its default configuration (governor, simulated broker, portfolio); with
random actions the default loss limits soon stop trading for the day, so the share of steps
that fill an order is printed, and a configuration with the limits lifted shows the cost of
the trading path itself.

    .venv/bin/python benchmarks/bench_env.py [--rounds 21] [--steps 50000]
"""

from __future__ import annotations

import argparse
import statistics
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
    ap.add_argument("--rounds", type=int, default=21, help="alternating rounds (ours, trivial)")
    ap.add_argument("--steps", type=int, default=50_000, help="steps per env per round")
    args = ap.parse_args()
    src = SyntheticSource()
    bars = pd.concat([src.fetch(["NVDA", "MSFT"], d) for d in calendar.sessions("2025-09-02", "2025-11-28")])
    data = MarketData.from_bars(bars, ["NVDA", "MSFT"])
    ours, trivial = DualTickerTradingEnv(data), NullEnv()
    loose = RiskConfig(max_notional=1e6, max_gross=2e6, daily_loss_limit=1e12, max_drawdown=1e12,
                       max_orders_per_day=10**9, max_orders_per_minute=10)
    lifted = DualTickerTradingEnv(data, EnvConfig(risk=loose))
    for env in (ours, trivial, lifted):
        env.reset(seed=0)
        env.action_space.seed(0)
    rounds = [(steps_per_second(ours, args.steps), steps_per_second(trivial, args.steps)) for _ in range(args.rounds)]
    speed = statistics.median(r[0] for r in rounds)
    baseline = statistics.median(r[1] for r in rounds)
    ratios = [a / b for a, b in rounds]
    ratio, (q1, _, q3) = statistics.median(ratios), statistics.quantiles(ratios, n=4)
    trading = statistics.median(steps_per_second(lifted, args.steps) for _ in range(3))
    print(f"DualTickerTradingEnv, default config: {speed:,.0f} steps/s ({data.n_bars:,} bars, random actions, "
          f"{share_of_steps_that_filled(ours):.0%} of steps fill an order)")
    print(f"DualTickerTradingEnv, limits lifted:  {trading:,.0f} steps/s "
          f"({share_of_steps_that_filled(lifted):.0%} of steps fill an order)")
    print(f"trivial env (same spaces, zeros):     {baseline:,.0f} steps/s")
    print(f"ratio per round: median {ratio:.3f}, quartiles {q1:.3f}–{q3:.3f} over {args.rounds} rounds "
          f"of {args.steps:,} steps each")
    print(f"RESULT steps_per_s={speed:.0f} baseline_steps_per_s={baseline:.0f} ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
