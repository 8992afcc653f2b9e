"""Training speed: what our env costs PPO, and what the project's RecurrentPPO settings buy.

1. PPO (SB3 defaults) on DualTickerTradingEnv vs the same PPO on a null env with identical
   spaces, in the same process: the ratio is the share of training throughput the env leaves.
2. RecurrentPPO with SB3's default settings vs the project's defaults (`TrainConfig`):
   steps/s of `learn` for the same number of timesteps, and the out-of-sample Sharpe of both
   models (last sessions, never trained on), so speed is not bought with quality. The data are
   synthetic random walks: there is no edge to find, and both Sharpes are noise around zero.
Everything runs with torch on one thread (the project's default, `TrainConfig.torch_threads`):
on 2 shared cores two OpenMP threads spin against each other and the env, and throughput
collapses whenever anything else runs. Runs are interleaved and the best of `--repeats` kept.
    .venv/bin/python benchmarks/bench_train.py [--steps 8192] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import gymnasium as gym
import pandas as pd
import torch

from ijules_core import calendar
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.env import DualTickerTradingEnv
from ijules_core.evaluation import evaluate
from ijules_core.features import MarketData
from ijules_core.policy import SB3Policy
from ijules_core.training import Dataset, TrainConfig, build_model, learn, torch_cache_in_home
from null_env import NullEnv  # benchmarks/ is on sys.path when a script here runs

SYMBOLS = ["NVDA", "MSFT"]


def steps_per_second(model, steps: int) -> float:
    start = time.perf_counter()
    learn(model, steps)
    return steps / (time.perf_counter() - start)


def ppo_steps_per_second(env: gym.Env, steps: int) -> float:
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import Logger

    model = PPO("MlpPolicy", env, seed=0, device="cpu", verbose=0)  # SB3 defaults: n_steps 2048, batch 64
    model.set_logger(Logger(folder=None, output_formats=[]))
    start = time.perf_counter()
    model.learn(steps)
    return steps / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch_cache_in_home()
    torch.set_num_threads(TrainConfig.torch_threads)
    days = calendar.previous_sessions("2025-11-26", 25)
    src = SyntheticSource()
    data = MarketData.from_bars(pd.concat([src.fetch(SYMBOLS, d) for d in days], ignore_index=True), SYMBOLS)
    dataset = Dataset(data, (20, 0, 5))  # no validation split: nothing is selected here
    train, oos = dataset.split("train"), dataset.split("oos")
    print(f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs; {train.n_bars:,} training bars, "
          f"{len(oos.days)} out-of-sample sessions")

    ours, null = [], []
    for _ in range(args.repeats):
        ours.append(ppo_steps_per_second(DualTickerTradingEnv(train), args.steps))
        null.append(ppo_steps_per_second(NullEnv(), args.steps))
    env_ratio = max(ours) / max(null)
    print(f"PPO (SB3 defaults), our env:  {max(ours):,.0f} steps/s")
    print(f"PPO (SB3 defaults), null env: {max(null):,.0f} steps/s  -> ratio {env_ratio:.3f}")

    sb3_defaults = TrainConfig(n_envs=1, n_steps=128, batch_size=128, n_epochs=10, ent_coef=0.0,
                               lstm_hidden_size=256, device="cpu")
    project = replace(TrainConfig(), device="cpu")
    results = {}
    for name, config in (("SB3 defaults", sb3_defaults), ("project defaults", project)):
        speeds, sharpes = [], []
        for _ in range(args.repeats if name == "project defaults" else 1):  # SB3 defaults are slow: once
            model, _ = build_model(train, config, seed=0)
            speeds.append(steps_per_second(model, args.steps))
            sharpes.append(evaluate(oos, SB3Policy(model))[0]["sharpe"])
        results[name] = (max(speeds), sharpes[0])
        print(f"RecurrentPPO, {name:16s} (n_envs {config.n_envs}, n_steps {config.n_steps}, batch {config.batch_size}, "
              f"epochs {config.n_epochs}, LSTM {config.lstm_hidden_size}): {max(speeds):,.0f} steps/s, "
              f"OOS Sharpe {sharpes[0]:.2f} after {args.steps:,} steps")
    speedup = results["project defaults"][0] / results["SB3 defaults"][0]
    print(f"RESULT env_overhead_ratio={env_ratio:.3f} rppo_speedup={speedup:.2f} "
          f"rppo_steps_per_s={results['project defaults'][0]:.0f} oos_sharpe_default={results['SB3 defaults'][1]:.2f} "
          f"oos_sharpe_project={results['project defaults'][1]:.2f}")


if __name__ == "__main__":
    main()
