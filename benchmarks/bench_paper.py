"""Paper-trading decision latency: bar in → last order submitted, with a RecurrentPPO policy on CPU.

A tiny RecurrentPPO is trained on synthetic bars and saved as a model file (how a champion
reaches the service), then the paper-trading service replays ten sessions of the bar table
at full speed against the simulated venue, in a scratch database of the configured server.
Each decision's latency is the service's own measurement (`trading.decisions.latency_ms`):
features from the stream, observation, policy, the governor, the write-ahead rows and the
orders sent — everything between the bar coming in and the last order reaching the broker.
Baseline, same run and policy: a backtester step over the same bars (no database, features
precomputed), the floor a decision cannot go below.
    .venv/bin/python benchmarks/bench_paper.py
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from ijules_core import calendar
from ijules_core.backtest import replay
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.env import DualTickerTradingEnv, EnvConfig
from ijules_core.features import MarketData
from ijules_core.paper.service import Service, ServiceOptions
from ijules_core.paper.trader import PaperConfig
from ijules_core.policy import SB3Policy, load_model
from ijules_core.store import connect, database_url
from ijules_core.store.bars import write_bars
from ijules_core.store.scratch import scratch_database

SYMBOLS = ["NVDA", "MSFT"]
WARMUP, SESSIONS = 2, 10


def tiny_recurrent_ppo(data: MarketData, folder: Path) -> Path:
    import torch
    from sb3_contrib import RecurrentPPO

    torch.set_num_threads(1)
    env = DualTickerTradingEnv(data, EnvConfig(episode_length=256))
    model = RecurrentPPO("MlpLstmPolicy", env, n_steps=256, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(512)
    path = folder / "rppo.zip"
    model.save(path)
    return path


def main() -> None:
    days = calendar.sessions("2025-10-01", "2025-12-31")[: WARMUP + SESSIONS]
    src = SyntheticSource()
    bars = pd.concat([src.fetch(SYMBOLS, d) for d in days], ignore_index=True)
    data = MarketData.from_bars(bars, SYMBOLS)
    with tempfile.TemporaryDirectory() as tmp, \
            scratch_database(database_url(), f"bench_{uuid.uuid4().hex[:8]}") as url:
        t = time.perf_counter()
        model = tiny_recurrent_ppo(data, Path(tmp))
        print(f"tiny RecurrentPPO trained in {time.perf_counter() - t:.1f} s")
        with connect(url) as conn:
            write_bars(conn, bars, "synthetic")
        for day in days[WARMUP:]:
            Service(ServiceOptions(paper=PaperConfig(account="bench"), replay=day, speed=0, model=str(model),
                                   metrics_port=None), url).run(handle_signals=False)
        with connect(url) as conn:
            rows = conn.execute("SELECT latency_ms, orders FROM trading.decisions WHERE kind = 'policy'").fetchall()
        policy = SB3Policy(load_model(model), "rppo")
        t = time.perf_counter()
        replay(data, policy)
        step_ms = (time.perf_counter() - t) / data.n_bars * 1e3
    latency = np.array([r[0] for r in rows])
    with_orders = np.array([r[0] for r in rows if r[1]])
    p50, p99 = np.percentile(latency, [50, 99])
    print(f"{len(latency)} decisions over {SESSIONS} sessions, {len(with_orders)} of them sending orders")
    print(f"paper decision latency: p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {latency.max():.3f} ms "
          f"(decisions with orders: p50 {np.percentile(with_orders, 50):.3f} ms, "
          f"p99 {np.percentile(with_orders, 99):.3f} ms)")
    print(f"baseline, backtester step with the same policy (no database): {step_ms:.3f} ms "
          f"→ paper p50 is {p50 / step_ms:.1f}× it; target p99 <= 5 ms: {'met' if p99 <= 5 else 'MISSED'}")
    print(f"RESULT p50_ms={p50:.3f} p99_ms={p99:.3f} decisions={len(latency)}")


if __name__ == "__main__":
    main()
