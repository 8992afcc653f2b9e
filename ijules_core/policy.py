"""Policies: what turns an observation into an action, for backtests and paper trading.

A policy is reset at each session start (a recurrent policy forgets its LSTM state) and
acts one observation at a time, returning the action and its probability (the model's
confidence; 1.0 for rules). Rule policies are the baselines every model must beat.
Trained models are stable-baselines3 PPO or sb3-contrib RecurrentPPO zip files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from ijules_core.features import FEATURE_NAMES, N_FEATURES

HOLD = 4  # (HOLD, HOLD)
BUY_BOTH = 8
_SMA_DEV = FEATURE_NAMES.index("sma_dev_20")


class Policy(Protocol):
    name: str

    def reset(self) -> None: ...

    def act(self, obs: np.ndarray) -> tuple[int, float]: ...


class FlatPolicy:
    """Never trades: the zero line every strategy is measured against."""

    name = "flat"

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> tuple[int, float]:
        return HOLD, 1.0


class BuyAndHoldPolicy:
    """Buys both symbols up to the limit each morning; the governor flattens it at the close."""

    name = "buy_and_hold"

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> tuple[int, float]:
        return BUY_BOTH, 1.0


class RandomPolicy:
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> tuple[int, float]:
        return int(self._rng.integers(9)), 1.0 / 9


class MovingAveragePolicy:
    """Trend rule: buy a symbol trading above its 20-bar SMA by more than `band` %, sell below."""

    name = "moving_average"

    def __init__(self, band: float = 0.05) -> None:
        self.band = band

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> tuple[int, float]:
        moves = []
        for i in range(2):
            dev = obs[i * N_FEATURES + _SMA_DEV]
            moves.append(2 if dev > self.band else 0 if dev < -self.band else 1)
        return 3 * moves[0] + moves[1], 1.0


class SB3Policy:
    """A trained PPO or RecurrentPPO model, acting greedily; keeps the LSTM state across bars."""

    def __init__(self, model, name: str = "model") -> None:
        import torch

        self._torch = torch
        self.model = model
        self.name = name
        self.policy = model.policy
        self.recurrent = hasattr(self.policy, "lstm_hidden_state_shape")
        self.policy.set_training_mode(False)
        self.reset()

    def reset(self) -> None:
        torch = self._torch
        if self.recurrent:
            shape = self.policy.lstm_hidden_state_shape
            self._state = (torch.zeros(shape, device=self.policy.device), torch.zeros(shape, device=self.policy.device))
        self._start = torch.ones(1, device=self.policy.device)

    def act(self, obs: np.ndarray) -> tuple[int, float]:
        torch = self._torch
        with torch.no_grad():
            x = torch.as_tensor(obs, device=self.policy.device).reshape(1, -1)
            if self.recurrent:
                dist, self._state = self.policy.get_distribution(x, self._state, self._start)
                self._start = torch.zeros(1, device=self.policy.device)
            else:
                dist = self.policy.get_distribution(x)
            probs = dist.distribution.probs[0]
            action = int(torch.argmax(probs))
            return action, float(probs[action])


def load_model(path: str | Path, device: str = "cpu"):
    """Load an SB3 zip, whichever of PPO / RecurrentPPO saved it."""
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    errors = []
    for algo in (RecurrentPPO, PPO):
        try:
            return algo.load(path, device=device)
        except Exception as exc:  # the wrong class fails on its policy kwargs; try the other
            errors.append(f"{algo.__name__}: {type(exc).__name__}")
    raise ValueError(f"{path} is not a PPO or RecurrentPPO model ({'; '.join(errors)})")


BASELINES = {"flat": FlatPolicy, "buy_and_hold": BuyAndHoldPolicy, "random": RandomPolicy,
             "moving_average": MovingAveragePolicy}
