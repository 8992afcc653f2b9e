"""`DualTickerTradingEnv`: the gymnasium environment that training and evaluation share.

Observation Box(26,): 12 features × 2 symbols at the close of bar t, then each symbol's
position as a share of the position limit. Action Discrete(9): SELL/HOLD/BUY per symbol
(see `execution.action_deltas`). A step decides at the close of bar t through the same
`ExecutionEngine` (governor, broker, portfolio) that backtests and paper trading use;
orders fill at the open of bar t+1; the reward is the change in net portfolio value
from close t to close t+1 times `reward_scale`, less optional turnover and drawdown
penalties. Episodes start at a seeded random bar after the `lookback` warm-up and last
`episode_length` bars, crossing sessions (the governor flattens at every close).

A gap in the data (`MarketData.gap_minutes`) reaches the governor as the bar's age, so a
bar that comes after more than `RiskConfig.stale_minutes` without data only lets
positions shrink.

The step is kept lean (`benchmarks/bench_env.py`): each decision's scalars are prebuilt into
one tuple, an episode's observation rows are copied once at reset, no pandas, and no order,
fill or event objects when nothing trades. A flat book that no fill has touched keeps its
value, positions and P&L, so such a step reuses them: `info["positions"]` and `info["pnl"]`
are then the same dicts as the step before (treat `info` as read-only, as SB3 does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from ijules_core.brokers.sim import SimBroker
from ijules_core.costs import CostModel
from ijules_core.execution import N_ACTIONS, ExecutionConfig, ExecutionEngine
from ijules_core.features import CLIP, N_FEATURES, MarketData
from ijules_core.portfolio import Portfolio
from ijules_core.risk import RiskConfig, RiskGovernor

OBS_SIZE = 2 * N_FEATURES + 2
MINUTE_NS = 60_000_000_000


@dataclass(frozen=True)
class EnvConfig:
    lookback: int = 50
    episode_length: int = 1000
    reward_scale: float = 0.01
    turnover_penalty: float = 0.0  # × dollars traded in the step
    drawdown_penalty: float = 0.0  # × the step's loss in dollars (how much the drawdown grew)
    initial_cash: float = 10_000.0
    costs: CostModel = field(default_factory=CostModel)
    risk: RiskConfig = field(default_factory=RiskConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    reject_rate: float = 0.0  # share of orders the simulated broker rejects (chaos)

    def __post_init__(self) -> None:
        if self.lookback < 0 or self.episode_length < 1:
            raise ValueError("EnvConfig: lookback must be >= 0 and episode_length >= 1")
        if self.reward_scale <= 0 or self.turnover_penalty < 0 or self.drawdown_penalty < 0:
            raise ValueError("EnvConfig: reward_scale must be > 0 and penalties >= 0")
        if self.initial_cash <= 0:
            raise ValueError("EnvConfig: initial_cash must be > 0")


def flat_observations(features: np.ndarray) -> np.ndarray:
    """(..., 24) features → a new (..., 26) float32 array of flat-book observations: the rows `observation` completes.

    Built once per dataset, so a decision assembles nothing: it completes a row of its own.
    """
    out = np.zeros((*features.shape[:-1], OBS_SIZE), dtype=np.float32)
    out[..., :-2] = features
    return out


def observation(row: np.ndarray, positions: Sequence[int], pos_scale: float) -> np.ndarray:
    """The observation at a bar: its flat-book row (`flat_observations`) completed in place with each
    position as a share of the position limit (`pos_scale` = 1 / limit in shares), and returned.

    `row` must be the caller's own, used for this one observation (a row of a fresh array). The one
    definition for training, backtests and paper trading.
    """
    q0, q1 = positions
    if q0:
        row[-2] = q0 * pos_scale
    if q1:
        row[-1] = q1 * pos_scale
    return row


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
        self.data, self.config = data, config
        self.symbols = list(data.symbols)
        self.observation_space = gym.spaces.Box(-CLIP, CLIP, shape=(OBS_SIZE,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        self._flat = flat_observations(data.features.reshape(data.n_bars, 2 * N_FEATURES))
        self._flat.flags.writeable = False  # shared by every episode: each copies its own rows at reset
        # one tuple of Python scalars per decision: a step unpacks it instead of indexing numpy arrays
        s0, s1 = self.symbols
        opens = [{s0: a, s1: b} for a, b in data.open.tolist()]
        closes = [{s0: a, s1: b} for a, b in data.close.tolist()]
        self._steps = list(zip(
            (data.ts + MINUTE_NS).tolist(), closes,  # the bar's close: the decision's time and prices
            data.session.tolist(), data.minutes_to_close.tolist(),
            (data.gap_minutes - 1.0).tolist(),  # minutes without data before the bar
            data.rolling_correlation().tolist(),
            data.ts.tolist()[1:], opens[1:], closes[1:],  # the next bar: fills at its open, marked at its close
        ))
        self._pos_scale = 1.0 / config.execution.max_shares
        self._penalized = bool(config.turnover_penalty or config.drawdown_penalty)
        self._reward_scale = config.reward_scale
        self.engine: ExecutionEngine | None = None
        self.t = self.end = 0  # no episode yet: `step` asks for `reset`

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """A fresh book (cash, no positions, an ACTIVE governor) at a seeded random bar, or `options["start"]`."""
        super().reset(seed=seed)
        c = self.config
        start = (options or {}).get("start")
        if start is None:
            start = int(self.np_random.integers(c.lookback, self.data.n_bars - c.episode_length))
        elif not c.lookback <= start < self.data.n_bars - c.episode_length:
            raise ValueError(f"start {start} leaves no room for lookback {c.lookback} and {c.episode_length} bars")
        self.start = self.t = start
        self.end = start + c.episode_length
        broker = SimBroker(self.symbols, c.costs, c.initial_cash, reject_rate=c.reject_rate,
                           seed=int(self.np_random.integers(2**31)))
        self.portfolio = Portfolio(self.symbols, c.initial_cash)
        self.governor = RiskGovernor(c.risk, self.symbols)
        self.engine = ExecutionEngine(self.symbols, broker, self.portfolio, self.governor, c.execution)
        self._positions = tuple(self.portfolio.positions.values())  # Position objects, updated in place
        self._session_id = -1
        self._flat_book: tuple[dict, dict] | None = None  # `info` of a flat book: reused until the next fill
        self._equity = c.initial_cash
        # the episode's observations, copied at once: each step completes and hands out a row of its own
        self._obs = list(self._flat[start:self.end + 1].copy())
        obs = self._obs[0]
        return obs, {"start": start, "ts": int(self.data.ts[start])}

    def step(self, action):
        t = self.t
        if t >= self.end:
            raise RuntimeError("DualTickerTradingEnv.step needs reset() first, and again once an episode is truncated")
        (decided_at, close, session, minutes_to_close, bar_age, correlation,
         opened_at, opens, close_next) = self._steps[t]
        engine, portfolio, governor = self.engine, self.portfolio, self.governor
        if session != self._session_id:
            self._session_id = session
            governor.start_session(decided_at, self._equity)
        # `before` is the book marked at this close: no fill comes between the last mark and the decision
        before, traded, refusals = self._equity, portfolio.traded_value, governor.refusals
        engine.decide(decided_at, int(action), close, minutes_to_close, bar_age, 0.0, correlation, before)
        self.t = t = t + 1
        obs, book = self._obs[t - self.start], self._flat_book  # this step's row, completed below unless flat
        if engine.open_orders:  # nothing to fill otherwise (most bars)
            engine.on_bar(opened_at, opens)
            book = None
        if book is None:  # else the book is flat and no fill has touched it: same value, positions, P&L
            p0, p1 = self._positions
            q0, q1 = p0.qty, p1.qty
            s0, s1 = self.symbols
            self._equity = portfolio.equity(close_next)
            book = {s0: q0, s1: q1}, portfolio.net_pnl(close_next)  # P&L: realised + unrealised − fees
            self._flat_book = None if q0 or q1 else book  # shared by the infos that follow: never modified
            observation(obs, (q0, q1), self._pos_scale)
        equity = self._equity
        reward = equity - before
        if self._penalized:
            c = self.config
            reward -= c.turnover_penalty * (portfolio.traded_value - traded)
            reward -= c.drawdown_penalty * max(0.0, before - equity)
        info = {
            "equity": equity,
            "positions": book[0],
            "pnl": book[1],
            "fees": portfolio.fees,
            "refusals": governor.refusals - refusals,
            "governor": governor.state,
        }
        return obs, reward * self._reward_scale, False, t >= self.end, info


def make_vec_env(data: MarketData, config: EnvConfig = EnvConfig(), n_envs: int = 1, seed: int = 0,
                 subprocess: bool = False):
    """n copies of the env in an SB3 VecEnv (DummyVecEnv, or SubprocVecEnv for CPU-heavy policies)."""
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    return sb3_make_vec_env(DualTickerTradingEnv, n_envs=n_envs, seed=seed,
                            vec_env_cls=SubprocVecEnv if subprocess else DummyVecEnv,
                            env_kwargs={"data": data, "config": config})
