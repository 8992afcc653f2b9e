import tempfile

import numpy as np
import pytest
from core_data import SYMBOLS, synthetic_bars
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.logger import Logger

from ijules_core.costs import CostModel
from ijules_core.env import OBS_SIZE, DualTickerTradingEnv, EnvConfig, make_vec_env
from ijules_core.execution import ExecutionConfig
from ijules_core.features import MarketData
from ijules_core.risk import RiskConfig

LOOSE = RiskConfig(daily_loss_limit=1e9, max_drawdown=1e9, max_orders_per_day=10**6, max_orders_per_minute=10)
FREE = CostModel(slippage_bps=0, commission_per_share=0, min_commission=0, max_commission_pct=0)


def test_passes_gymnasium_and_sb3_checkers(month_data):
    env = DualTickerTradingEnv(month_data, EnvConfig(episode_length=200))
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env)
    obs, info = env.reset(seed=3)
    assert obs.shape == (OBS_SIZE,) and info["start"] >= 50


def test_step_books_through_the_shared_engine(month_data):
    env = DualTickerTradingEnv(month_data, EnvConfig(episode_length=100, risk=LOOSE))
    env.reset(seed=0, options={"start": 100})
    _, reward, _, _, info = env.step(8)  # BUY both at the close of bar 100 ...
    assert info["positions"] == {"NVDA": 1, "MSFT": 1}  # ... filled at the open of bar 101
    fills = env.engine.portfolio.fills
    assert [f.ts for f in fills] == [int(month_data.ts[101])] * 2
    assert fills[0].price == pytest.approx(month_data.open[101, 0] * (1 + 1e-4))  # 1 bp slippage
    expected = (env.engine.portfolio.equity(dict(zip(SYMBOLS, month_data.close[101]))) - 10_000) * 0.01
    assert reward == pytest.approx(expected)
    assert info["fees"] == 2.0 and set(env.pnl()) == set(SYMBOLS)


def test_episodes_are_seeded_and_truncate(month_data):
    env = DualTickerTradingEnv(month_data, EnvConfig(episode_length=10))
    a, _ = env.reset(seed=5)
    b, _ = env.reset(seed=5)
    np.testing.assert_array_equal(a, b)
    for _ in range(9):
        assert not env.step(4)[3]
    assert env.step(4)[3]


def test_bad_inputs(month_data):
    env = DualTickerTradingEnv(month_data, EnvConfig(episode_length=10))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be an integer in 0..8"):
        env.step(9)
    with pytest.raises(ValueError, match="cannot hold lookback"):
        DualTickerTradingEnv(month_data, EnvConfig(episode_length=month_data.n_bars))
    broken = MarketData(**{**month_data.__dict__, "features": month_data.features.copy()})
    broken.features[7, 0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        DualTickerTradingEnv(broken)
    with pytest.raises(ValueError, match="reward_scale"):
        EnvConfig(reward_scale=0)
    with pytest.raises(ValueError, match="ExecutionConfig"):
        ExecutionConfig(max_units=-1)


def test_vectorised_constructor(month_data):
    venv = make_vec_env(month_data, EnvConfig(episode_length=50), n_envs=3, seed=1)
    obs = venv.reset()
    assert obs.shape == (3, OBS_SIZE) and not np.allclose(obs[0], obs[1])
    venv.close()


def _mean_episode_reward(model, env, episodes=8):
    total = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=1_000 + ep)
        done, ret = False, 0.0
        while not done:
            action = env.action_space.sample() if model is None else int(model.predict(obs, deterministic=True)[0])
            obs, r, _, done, _ = env.step(action)
            ret += r
        total.append(ret)
    return float(np.mean(total))


def _train(env, steps=6_000):
    model = PPO("MlpPolicy", env, n_steps=512, batch_size=128, learning_rate=1e-3, seed=0, verbose=0)
    model.set_logger(Logger(folder=None, output_formats=[]))  # `configure(None, [])` would still make /tmp/SB3-*
    return model.learn(steps)


def test_leak_canary_is_learned_and_the_real_env_has_no_edge(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # SB3 would litter here if it made log folders
    data = MarketData.from_bars(synthetic_bars("2025-10-01", "2025-10-31"), SYMBOLS)
    config = EnvConfig(episode_length=200, reward_scale=1.0, costs=FREE, risk=LOOSE,
                       execution=ExecutionConfig(unit_shares=1, max_units=1))
    leaky = DualTickerTradingEnv(data, EnvConfig(**{**config.__dict__, "leak_next_return": True}))
    real = DualTickerTradingEnv(data, config)
    random_leaky = _mean_episode_reward(None, leaky)
    learned_leaky = _mean_episode_reward(_train(leaky), leaky)
    learned_real = _mean_episode_reward(_train(real), real)
    # with the next bar's return in view, PPO earns dollars per episode; without it, no edge
    assert learned_leaky > random_leaky + 10.0  # measured: about +24 $ vs -0.1 $ for random actions
    assert learned_leaky > 4 * max(abs(learned_real), 1.0)  # measured: real env about 3 $
    assert not list(tmp_path.glob("SB3-*"))
