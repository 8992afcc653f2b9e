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
    """A trained PPO or RecurrentPPO model, acting greedily; keeps the LSTM state across bars.

    For the standard architectures (flat observation, MLP actor, one LSTM layer) the actor
    runs in numpy from the model's own weights: one small step costs a few tens of µs
    instead of torch's per-call overhead (~0.4 ms), which is what backtests and the
    paper trader's decision latency need. Anything else runs through torch.
    """

    def __init__(self, model, name: str = "model") -> None:
        self.model = model
        self.name = name
        self.policy = model.policy
        self.recurrent = hasattr(self.policy, "lstm_hidden_state_shape")
        self.policy.set_training_mode(False)
        self._numpy = _NumpyActor.from_policy(self.policy, self.recurrent)
        self.reset()

    def reset(self) -> None:
        if self._numpy is not None:
            self._numpy.reset()
        elif self.recurrent:
            import torch

            shape = self.policy.lstm_hidden_state_shape
            self._state = (torch.zeros(shape, device=self.policy.device), torch.zeros(shape, device=self.policy.device))

    def probabilities(self, obs: np.ndarray) -> np.ndarray:
        """Action probabilities for `obs`, advancing the LSTM state by one bar."""
        if self._numpy is not None:
            return self._numpy.step(np.asarray(obs, dtype=np.float32))
        import torch

        with torch.no_grad():
            x = torch.as_tensor(obs, device=self.policy.device).reshape(1, -1)
            if self.recurrent:
                start = torch.zeros(1, device=self.policy.device)
                dist, self._state = self.policy.get_distribution(x, self._state, start)
            else:
                dist = self.policy.get_distribution(x)
            return dist.distribution.probs[0].cpu().numpy()

    def act(self, obs: np.ndarray) -> tuple[int, float]:
        probs = self.probabilities(obs)
        action = int(np.argmax(probs))
        return action, float(probs[action])


class _NumpyActor:
    """The actor half of an SB3 policy in numpy: [LSTM] → MLP → logits → softmax."""

    def __init__(self, lstm, layers, head) -> None:
        self.lstm, self.layers, self.head = lstm, layers, head
        self.reset()

    @classmethod
    def from_policy(cls, policy, recurrent: bool) -> "_NumpyActor | None":
        import torch.nn as nn
        from stable_baselines3.common.torch_layers import FlattenExtractor

        def arr(t):
            return t.detach().cpu().numpy().astype(np.float32)

        extractor = getattr(policy, "pi_features_extractor", policy.features_extractor)
        if not isinstance(extractor, FlattenExtractor) or not isinstance(policy.action_net, nn.Linear):
            return None
        lstm = None
        if recurrent:
            rnn = policy.lstm_actor
            if rnn.num_layers != 1 or rnn.bidirectional or not rnn.bias:
                return None
            lstm = (arr(rnn.weight_ih_l0), arr(rnn.weight_hh_l0), arr(rnn.bias_ih_l0) + arr(rnn.bias_hh_l0))
        layers = []
        for module in policy.mlp_extractor.policy_net:
            if isinstance(module, nn.Linear):
                layers.append(("linear", arr(module.weight), arr(module.bias)))
            elif isinstance(module, nn.Tanh):
                layers.append(("tanh",))
            elif isinstance(module, nn.ReLU):
                layers.append(("relu",))
            else:
                return None
        return cls(lstm, layers, (arr(policy.action_net.weight), arr(policy.action_net.bias)))

    def reset(self) -> None:
        if self.lstm is not None:
            hidden = self.lstm[1].shape[1]
            self.h = np.zeros(hidden, np.float32)
            self.c = np.zeros(hidden, np.float32)

    def step(self, x: np.ndarray) -> np.ndarray:
        if self.lstm is not None:
            w_ih, w_hh, b = self.lstm
            gates = w_ih @ x + w_hh @ self.h + b
            i, f, g, o = np.split(gates, 4)
            self.c = _sigmoid(f) * self.c + _sigmoid(i) * np.tanh(g)
            self.h = _sigmoid(o) * np.tanh(self.c)
            x = self.h
        for layer in self.layers:
            if layer[0] == "linear":
                x = layer[1] @ x + layer[2]
            elif layer[0] == "tanh":
                x = np.tanh(x)
            else:
                x = np.maximum(x, 0.0)
        logits = self.head[0] @ x + self.head[1]
        e = np.exp(logits - logits.max())
        return e / e.sum()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


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


FALLBACK = "moving_average"  # what runs when no champion exists yet: a rule, never an untrained net


def policy_from_spec(spec: str, tracker=None, cache_dir: Path | None = None) -> Policy:
    """`champion` (the MLflow alias; FALLBACK when there is none), a baseline name, or a model file."""
    if spec in BASELINES:
        return BASELINES[spec]()
    if spec == "champion":
        from ijules_core.tracking import MODEL_NAME

        version = tracker.alias_version(MODEL_NAME) if tracker is not None else None
        if version is None:
            return BASELINES[FALLBACK]()
        import mlflow

        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=version.source, dst_path=str(cache_dir) if cache_dir else None,
                                                         tracking_uri=tracker.tracking_uri))
        path = local if local.is_file() else next(local.rglob("*.zip"), local)
        return SB3Policy(load_model(path), name=f"champion:{MODEL_NAME}/{version.version}")
    return SB3Policy(load_model(spec), name=Path(spec).stem)
