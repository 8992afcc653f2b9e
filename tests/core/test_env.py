import dataclasses
import tempfile

import numpy as np
import pytest
import torch
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

LOOSE = RiskConfig(max_notional=1e6, max_gross=2e6, daily_loss_limit=1e9, max_drawdown=1e9, max_orders_per_day=10**6,
                   max_orders_per_minute=10)
FREE = CostModel(slippage_bps=0, commission_per_share=0, min_commission=0, max_commission_pct=0)


def test_passes_gymnasium_and_sb3_checkers(month_data):
    env = DualTickerTradingEnv(month_data, EnvConfig(episode_length=200))
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env)
    obs, info = env.reset(seed=3)
    assert obs.shape == (OBS_SIZE,) and obs.dtype == np.float32 and info["start"] >= 50


def test_step_decides_at_the_close_and_fills_at_the_next_open(month_data):
    env = DualTickerTradingEnv(month_data, EnvConfig(episode_length=100, risk=LOOSE))
    obs, _ = env.reset(seed=0, options={"start": 100})
    np.testing.assert_array_equal(obs[:-2], month_data.features[100].reshape(-1))
    obs, reward, _, _, info = env.step(8)  # BUY both at the close of bar 100 ...
    assert info["positions"] == {"NVDA": 1, "MSFT": 1}  # ... filled at the open of bar 101
    assert obs[-2:].tolist() == pytest.approx([0.2, 0.2])  # 1 share of a 5-share limit
    fills = env.portfolio.fills
    assert [f.ts for f in fills] == [int(month_data.ts[101])] * 2
    assert fills[0].price == pytest.approx(month_data.open[101, 0] * (1 + 1e-4))  # 1 bp slippage
    close = month_data.close[101]
    paid = sum(f.price for f in fills) + 2.0  # two $1 minimum commissions
    assert info["equity"] == pytest.approx(10_000 - paid + close.sum())
    assert reward == pytest.approx((info["equity"] - 10_000) * 0.01)
    assert info["pnl"]["NVDA"] == pytest.approx(close[0] - fills[0].price - 1.0)
    assert info["fees"] == 2.0 and info["refusals"] == 0 and info["governor"] == "ACTIVE"
    assert env.portfolio.equity(dict(zip(month_data.symbols, close))) == info["equity"]


def test_episodes_are_seeded_and_truncate(month_data):
    env = DualTickerTradingEnv(month_data, EnvConfig(episode_length=10))
    a, _ = env.reset(seed=5)
    b, _ = env.reset(seed=5)
    np.testing.assert_array_equal(a, b)
    assert env.reset(seed=6)[1]["start"] != env.reset(seed=5)[1]["start"]
    env.reset(seed=5)
    for _ in range(9):
        assert not env.step(4)[3]
    assert env.step(4)[3]


def test_penalties_lower_the_reward_of_trading_and_losing(month_data):
    plain = DualTickerTradingEnv(month_data, EnvConfig(episode_length=20, risk=LOOSE))
    taxed = DualTickerTradingEnv(month_data, EnvConfig(episode_length=20, risk=LOOSE, turnover_penalty=1e-3,
                                                       drawdown_penalty=0.5))
    for env in (plain, taxed):
        env.reset(seed=0, options={"start": 500})
    (_, r_plain, _, _, info), (_, r_taxed, *_) = plain.step(8), taxed.step(8)
    traded = sum(abs(f.qty) * f.price for f in plain.portfolio.fills)
    loss = max(0.0, 10_000 - info["equity"])
    assert traded > 0 and loss > 0  # both penalties bite on this step
    assert r_taxed == pytest.approx(r_plain - 0.01 * (1e-3 * traded + 0.5 * loss))


def test_bad_actions_and_configs(month_data):
    env = DualTickerTradingEnv(month_data, EnvConfig(episode_length=10))
    env.reset(seed=0)
    for bad in (9, -1):
        with pytest.raises(ValueError, match="action must be an integer in 0..8"):
            env.step(bad)
    with pytest.raises(ValueError, match="cannot hold lookback"):
        DualTickerTradingEnv(month_data, EnvConfig(episode_length=month_data.n_bars))
    with pytest.raises(ValueError, match="reward_scale"):
        EnvConfig(reward_scale=0)
    with pytest.raises(ValueError, match="ExecutionConfig"):
        ExecutionConfig(max_units=-1)
    with pytest.raises(ValueError, match=r"RiskConfig: daily_loss_limit must be >= 0"):
        EnvConfig(risk=RiskConfig(daily_loss_limit=-50))


@pytest.mark.parametrize("risk", [RiskConfig(), LOOSE], ids=["default limits", "limits lifted"])
def test_every_step_reports_what_the_book_holds(month_data, risk):
    """The step reuses a flat book's value, positions and P&L until a fill: each must equal a full recount."""
    env = DualTickerTradingEnv(month_data, EnvConfig(episode_length=600, risk=risk))
    env.action_space.seed(1)
    obs, _ = env.reset(seed=1)
    start, seen, flat_steps, shared = env.start, [obs], 0, 0
    previous = None
    for i in range(1, 601):
        obs, reward, _, truncated, info = env.step(env.action_space.sample())
        close = dict(zip(month_data.symbols, month_data.close[start + i].tolist()))
        pf = env.portfolio
        assert info["equity"] == pf.equity(close)
        assert info["positions"] == pf.quantities()
        assert info["pnl"] == {s: v["net"] for s, v in pf.pnl(close).items()}
        expected = np.append(month_data.features[start + i].reshape(-1), [q / 5 for q in pf.quantities().values()])
        np.testing.assert_array_equal(obs, expected.astype(np.float32))
        assert all(obs is not other for other in seen)  # every observation is an array of its own
        seen.append(obs)
        flat_steps += pf.is_flat()
        shared += previous is not None and info["pnl"] is previous["pnl"]
        previous = info
    assert truncated and flat_steps > 10 and shared > 0 and len(env.portfolio.fills) > 20, (flat_steps, shared)
    with pytest.raises(RuntimeError, match="needs reset"):
        env.step(4)  # the episode is over
    with pytest.raises(RuntimeError, match="needs reset"):
        DualTickerTradingEnv(month_data).step(4)


def test_bad_market_data_is_refused_at_construction(month_data):
    features = month_data.features.copy()
    features[7, 1, 3] = np.inf
    with pytest.raises(ValueError, match="ret_60 of MSFT at 2025-11-03 14:37:00.*not finite"):
        dataclasses.replace(month_data, features=features)
    close = month_data.close.copy()
    close[9, 0] = 0.0
    with pytest.raises(ValueError, match="bad price for NVDA at 2025-11-03 14:39:00"):
        dataclasses.replace(month_data, close=close)
    with pytest.raises(ValueError, match="read-only"):
        month_data.close[0, 0] = 1.0  # nobody can break it afterwards either


def test_a_gap_in_the_data_only_lets_positions_shrink():
    bars = synthetic_bars("2025-11-24", "2025-11-25")
    ts = bars.ts.sort_values().unique()
    data = MarketData.from_bars(bars[~bars.ts.isin(ts[200:210])], SYMBOLS)  # 10 minutes missing on Monday
    env = DualTickerTradingEnv(data, EnvConfig(episode_length=20, lookback=0, risk=LOOSE))

    def run(*last_actions):
        env.reset(seed=0, options={"start": 190})
        for action in [8] * 9 + [2, *last_actions]:  # bars 190..198 buy to the limit; 199 sells NVDA
            info = env.step(action)[4]
        return info

    info = run(8)  # bar 200 comes 11 minutes after bar 199: buying is refused
    assert info["positions"] == {"NVDA": 4, "MSFT": 5} and info["refusals"] == 1
    assert env.governor.events[-1].reason == "stale data: no bar for 10 min"
    assert run(0)["positions"] == {"NVDA": 3, "MSFT": 4}  # selling on the stale bar passes
    assert run(8, 8)["positions"] == {"NVDA": 5, "MSFT": 5}  # the next bar is fresh again


def test_vectorised_constructor(month_data):
    venv = make_vec_env(month_data, EnvConfig(episode_length=50), n_envs=3, seed=1)
    obs = venv.reset()
    assert obs.shape == (3, OBS_SIZE) and not np.allclose(obs[0], obs[1])
    obs, rewards, dones, infos = venv.step(np.array([8, 4, 0]))
    assert rewards.shape == (3,) and infos[0]["positions"] == {"NVDA": 1, "MSFT": 1}
    venv.close()


# --- the leak canary ----------------------------------------------------------------------------------

def _leaky(data: MarketData) -> MarketData:
    """The same bars, but feature 0 of each symbol is the NEXT bar's open→close return: a look-ahead leak."""
    features = data.features.copy()
    next_return = np.clip(np.log(data.close / data.open) * 100, -10, 10)
    features[:-1, :, 0] = next_return[1:]
    return dataclasses.replace(data, features=features)


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
    model.set_logger(Logger(folder=None, output_formats=[]))  # `configure(None, [])` would make /tmp/SB3-*
    return model.learn(steps)


@pytest.fixture
def one_torch_thread():
    """A tiny MLP trains fastest on one thread, and no slower when other processes share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_leak_canary_is_learned_and_the_real_env_has_no_edge(tmp_path, monkeypatch, one_torch_thread):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where SB3 would litter if it made log folders
    data = MarketData.from_bars(synthetic_bars("2025-10-01", "2025-10-31"), SYMBOLS)
    config = EnvConfig(episode_length=200, reward_scale=1.0, costs=FREE, risk=LOOSE,
                       execution=ExecutionConfig(unit_shares=1, max_units=1))
    leaky, real = DualTickerTradingEnv(_leaky(data), config), DualTickerTradingEnv(data, config)
    random_leaky = _mean_episode_reward(None, leaky)
    learned_leaky = _mean_episode_reward(_train(leaky), leaky)
    learned_real = _mean_episode_reward(_train(real), real)
    # with the next bar's return in view, PPO earns dollars per episode; without it, no edge
    assert learned_leaky > random_leaky + 10.0  # measured: about +24 $ vs +2 $ for random actions
    assert learned_leaky > 4 * max(abs(learned_real), 1.0)  # measured: real env about 3 $
    assert not list(tmp_path.glob("SB3-*"))
