"""`DualTickerTradingEnv`: the gymnasium environment that training and evaluation share.

Observation Box(26,): 12 features × 2 symbols at the close of bar t, then each symbol's
position as a share of the position limit. Action Discrete(9): SELL/HOLD/BUY per symbol
(see `execution.action_deltas`). A step decides at the close of bar t through the same
`ExecutionEngine` (governor, broker, portfolio) that backtests and paper trading use;
orders fill at the open of bar t+1; the reward is the change in net portfolio value
from close t to close t+1 times `reward_scale`, less optional turnover and drawdown
penalties. Episodes start at a seeded random bar after the `lookback` warm-up and last
`episode_length` bars, crossing sessions (the governor flattens at every close).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import gymnasium as gym
import numpy as np

from ijules_core.brokers.sim import SimBroker
from ijules_core.costs import CostModel
from ijules_core.execution import N_ACTIONS, ExecutionConfig, ExecutionEngine
from ijules_core.features import CLIP, N_FEATURES, MarketData
from ijules_core.portfolio import Portfolio
from ijules_core.risk import RiskConfig, RiskGovernor

OBS_SIZE = 2 * N_FEATURES + 2


@dataclass(frozen=True)
class EnvConfig:
    lookback: int = 50
    episode_length: int = 1000
    reward_scale: float = 0.01
    turnover_penalty: float = 0.0  # × dollars traded in the step
    drawdown_penalty: float = 0.0  # × increase of the episode's drawdown in the step
    initial_cash: float = 10_000.0
    costs: CostModel = field(default_factory=CostModel)
    risk: RiskConfig = field(default_factory=RiskConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    reject_rate: float = 0.0
    leak_next_return: bool = False  # the leak canary: feature 0 becomes the NEXT bar's open→close return

    def __post_init__(self) -> None:
        if self.lookback < 0 or self.episode_length < 1:
            raise ValueError("EnvConfig: lookback must be >= 0 and episode_length >= 1")
        if self.reward_scale <= 0 or self.turnover_penalty < 0 or self.drawdown_penalty < 0:
            raise ValueError("EnvConfig: reward_scale must be > 0 and penalties >= 0")


def observation(features: np.ndarray, portfolio: Portfolio, symbols: list[str], pos_scale: float) -> np.ndarray:
    """The observation at a bar: its 24 features, then each position as a share of the position limit.

    The one definition for training, backtests and paper trading (`pos_scale` = 1 / limit in shares).
    """
    obs = np.empty(OBS_SIZE, dtype=np.float32)
    obs[:-2] = features
    pos = portfolio.positions
    obs[-2] = pos[symbols[0]].qty * pos_scale
    obs[-1] = pos[symbols[1]].qty * pos_scale
    return obs


class DualTickerTradingEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, data: MarketData, config: EnvConfig = EnvConfig()) -> None:
        if len(data.symbols) != 2:
            raise ValueError(f"DualTickerTradingEnv trades two symbols, got {data.symbols}")
        if data.n_bars < config.lookback + config.episode_length + 1:
            raise ValueError(
                f"{data.n_bars} bars cannot hold lookback {config.lookback} + an episode of "
                f"{config.episode_length} bars: use more sessions or a shorter episode_length"
            )
        if not np.isfinite(data.features).all():
            raise ValueError("features contain NaN or inf: rebuild MarketData from validated bars")
        self.data, self.config = data, config
        self.symbols = list(data.symbols)
        self.observation_space = gym.spaces.Box(-CLIP, CLIP, shape=(OBS_SIZE,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        feats = data.features.reshape(data.n_bars, 2 * N_FEATURES).copy()
        if config.leak_next_return:
            oc = np.log(data.close / data.open) * 100
            feats[:-1, 0] = oc[1:, 0]
            feats[:-1, N_FEATURES] = oc[1:, 1]
        self._feats = feats
        # plain Python lists: scalar access in the step is several times faster than numpy indexing
        s0, s1 = self.symbols
        self._close = [{s0: a, s1: b} for a, b in data.close.tolist()]
        self._open = [{s0: a, s1: b} for a, b in data.open.tolist()]
        self._ts = data.ts.tolist()
        self._mtc = data.minutes_to_close.tolist()
        self._gap = data.gap_minutes.tolist()
        self._session = data.session.tolist()
        self._corr = data.rolling_correlation().tolist()
        self._pos_scale = 1.0 / (config.execution.max_units * config.execution.unit_shares)
        self.engine: ExecutionEngine | None = None

    def _new_engine(self) -> ExecutionEngine:
        c = self.config
        seed = int(self.np_random.integers(2**31))
        broker = SimBroker(self.symbols, c.costs, c.initial_cash, reject_rate=c.reject_rate, seed=seed)
        return ExecutionEngine(self.symbols, broker, Portfolio(self.symbols, c.initial_cash),
                               RiskGovernor(c.risk, self.symbols), c.execution)

    def _obs(self) -> np.ndarray:
        return observation(self._feats[self.t], self.engine.portfolio, self.symbols, self._pos_scale)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        c = self.config
        last_start = self.data.n_bars - c.episode_length - 1
        self.start = int((options or {}).get("start", self.np_random.integers(c.lookback, last_start + 1)))
        self.t = self.start
        self.end = self.start + c.episode_length
        self.engine = self._new_engine()
        self._session_id = -1
        self._equity = c.initial_cash
        self._peak = c.initial_cash
        self._events_seen = 0
        return self._obs(), {"start": self.start, "ts": self._ts[self.t]}

    def step(self, action):
        a = int(action)
        t, engine, portfolio = self.t, self.engine, self.engine.portfolio
        prices = self._close[t]
        ts = self._ts[t] + 60_000_000_000  # the decision is taken at the bar's close
        if self._session[t] != self._session_id:
            self._session_id = self._session[t]
            engine.governor.start_session(ts, self._equity)
        traded_before = portfolio.traded_value
        engine.decide(ts, a, prices, self._mtc[t], bar_age_minutes=self._gap[t] - 1.0, correlation=self._corr[t])
        self.t = t = t + 1
        engine.on_bar(self._ts[t], self._open[t])
        equity = portfolio.equity(self._close[t])
        reward = equity - self._equity
        c = self.config
        if c.turnover_penalty:
            reward -= c.turnover_penalty * (portfolio.traded_value - traded_before)
        if c.drawdown_penalty:
            reward -= c.drawdown_penalty * max(0.0, (self._peak - equity) - (self._peak - self._equity))
        self._equity = equity
        self._peak = max(self._peak, equity)
        events = engine.governor.events
        info = {
            "equity": equity,
            "positions": portfolio.quantities(),
            "fees": portfolio.fees,
            "refusals": len(events) - self._events_seen,
            "governor": engine.governor.state.value,
        }
        self._events_seen = len(events)
        return self._obs(), reward * c.reward_scale, False, t >= self.end, info

    def pnl(self) -> dict[str, dict[str, float]]:
        """Per-symbol realised/unrealised P&L and commissions at the current bar."""
        return self.engine.portfolio.pnl(self._close[self.t])


def make_vec_env(data: MarketData, config: EnvConfig = EnvConfig(), n_envs: int = 1, seed: int = 0,
                 subprocess: bool = False):
    """n copies of the env in an SB3 VecEnv (DummyVecEnv, or SubprocVecEnv for CPU-heavy policies)."""
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    return sb3_make_vec_env(lambda: DualTickerTradingEnv(data, config), n_envs=n_envs, seed=seed,
                            vec_env_cls=SubprocVecEnv if subprocess else DummyVecEnv)


def with_overrides(config: EnvConfig, **changes) -> EnvConfig:
    return replace(config, **changes)
