"""Environment speed: DualTickerTradingEnv with random actions vs a trivial env with the same spaces.

Both run the same number of steps in the same process; the trivial env only returns a
preallocated observation. Our env runs its default configuration (governor, simulated
broker, portfolio); the share of steps that sent orders is printed too, since refused or
HOLD steps are cheaper than trading ones.
    .venv/bin/python benchmarks/bench_env.py [--steps 300000]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import pandas as pd

from ijules_core import calendar
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.env import OBS_SIZE, DualTickerTradingEnv, EnvConfig
from ijules_core.features import MarketData
from ijules_core.risk import RiskConfig


class TrivialEnv(gym.Env):
    observation_space = gym.spaces.Box(-10, 10, shape=(OBS_SIZE,), dtype=np.float32)
    action_space = gym.spaces.Discrete(9)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(OBS_SIZE, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(OBS_SIZE, np.float32), 0.0, False, self.t >= 1000, {}


def steps_per_second(env: gym.Env, actions: list[int]) -> float:
    env.reset(seed=0)
    start = time.perf_counter()
    for a in actions:
        *_, truncated, _ = env.step(a)
        if truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300_000)
    steps = ap.parse_args().steps
    src = SyntheticSource()
    bars = pd.concat([src.fetch(["NVDA", "MSFT"], d) for d in calendar.sessions("2025-09-02", "2025-11-28")])
    data = MarketData.from_bars(bars, ["NVDA", "MSFT"])
    actions = np.random.default_rng(0).integers(0, 9, steps).tolist()
    ours = steps_per_second(DualTickerTradingEnv(data), actions)
    # random actions soon hit the default loss limits and the governor halts: measure the trading path too
    loose = RiskConfig(daily_loss_limit=1e12, max_drawdown=1e12, max_orders_per_day=10**9, max_orders_per_minute=10)
    trading_env = DualTickerTradingEnv(data, EnvConfig(risk=loose))
    trading = steps_per_second(trading_env, actions)
    baseline = steps_per_second(TrivialEnv(), actions)
    print(f"DualTickerTradingEnv, default config:   {ours:,.0f} steps/s ({data.n_bars:,} bars, random actions)")
    print(f"DualTickerTradingEnv, limits lifted:    {trading:,.0f} steps/s (random actions trade most steps)")
    print(f"trivial env (same spaces, zeros):        {baseline:,.0f} steps/s")
    print(f"RESULT steps_per_s={ours:.0f} baseline_steps_per_s={baseline:.0f} ratio={ours / baseline:.3f} "
          f"trading_steps_per_s={trading:.0f}")


if __name__ == "__main__":
    main()
