"""Training: a dated, hashed data set from `market_data.bars`, and SB3 training on it.

A data set is a window of trading sessions cut by date into train / validation /
out-of-sample (never shuffled across time). Features are computed once over the whole
window, so the first bars of the validation and out-of-sample splits carry their warm-up
from earlier bars — causal features only, nothing from later sessions. The arrays are
saved as one `.npz` under `$IJULES_HOME/datasets/`, named by the sha256 of their content.

Training runs stable-baselines3 PPO or sb3-contrib RecurrentPPO on `DualTickerTradingEnv`.
SB3's logger is replaced by one that forwards each rollout's figures (no /tmp/SB3-*
folders); a loss or weights that stop being finite end the run with `TrainingError`.
Multi-seed runs pick the seed with the best validation Sharpe; the out-of-sample sessions
are left to `evaluation`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import math
import os
import platform
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ijules_core import calendar
from ijules_core.env import OBS_SIZE, EnvConfig, make_vec_env
from ijules_core.execution import N_ACTIONS
from ijules_core.features import FEATURE_NAMES, MarketData

SPLITS = ("train", "validation", "oos")
_ARRAYS = ("ts", "open", "close", "features", "session", "minutes_to_close", "gap_minutes")
PACKAGES = ("numpy", "pandas", "torch", "gymnasium", "stable-baselines3", "sb3-contrib", "mlflow", "dagster")


class TrainingError(RuntimeError):
    """The data set or the training run cannot be used; the message says why and what to change."""


@dataclass(frozen=True)
class Window:
    """The last `sessions` NYSE sessions up to `end`: train, then validation, then out-of-sample."""

    end: dt.date
    sessions: int = 20
    validation_sessions: int = 3
    oos_sessions: int = 4

    def __post_init__(self) -> None:
        if self.validation_sessions < 1 or self.oos_sessions < 2:
            raise TrainingError("Window: need >= 1 validation session and >= 2 out-of-sample sessions "
                                "(a Sharpe ratio needs two daily returns)")
        if self.sessions < self.validation_sessions + self.oos_sessions + 1:
            raise TrainingError(f"Window: {self.sessions} sessions leave no training session after "
                                f"{self.validation_sessions} validation and {self.oos_sessions} out-of-sample ones")

    def days(self) -> list[dt.date]:
        return calendar.previous_sessions(self.end, self.sessions)

    def split_sizes(self) -> tuple[int, int, int]:
        return (self.sessions - self.validation_sessions - self.oos_sessions, self.validation_sessions, self.oos_sessions)


@dataclass(frozen=True)
class Dataset:
    """Features of a session window (`data`) and how many sessions each split has, in date order."""

    data: MarketData
    split_sizes: tuple[int, int, int]

    def __post_init__(self) -> None:
        if sum(self.split_sizes) != len(self.data.days):
            raise ValueError(f"split sizes {self.split_sizes} do not add up to {len(self.data.days)} sessions")

    def split(self, name: str) -> MarketData:
        """The sessions of one split as their own MarketData (arrays are views, not copies)."""
        i = SPLITS.index(name)
        lo, hi = sum(self.split_sizes[:i]), sum(self.split_sizes[: i + 1])
        d = self.data
        rows = np.flatnonzero((d.session >= lo) & (d.session < hi))
        s = slice(int(rows[0]), int(rows[-1]) + 1)
        return MarketData(d.symbols, d.ts[s], d.open[s], d.close[s], d.features[s], d.session[s] - lo,
                          d.days[lo:hi], d.minutes_to_close[s], d.gap_minutes[s])

    def _content(self) -> dict[str, np.ndarray]:
        d = self.data
        return {
            **{name: np.ascontiguousarray(getattr(d, name)) for name in _ARRAYS},
            "symbols": np.array(d.symbols), "days": np.array([str(x) for x in d.days]),
            "split_sizes": np.array(self.split_sizes, dtype=np.int64),
        }

    @property
    def content_hash(self) -> str:
        """sha256 of every array (name, dtype, shape and bytes): equal hashes, equal training data."""
        h = hashlib.sha256()
        for name, arr in self._content().items():
            h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
            h.update(arr.tobytes())
        return h.hexdigest()

    def save(self, folder: Path) -> Path:
        """`<folder>/<hash>.npz`, written once (content-addressed) through a temporary name."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.content_hash}.npz"
        if not path.exists():
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            with open(tmp, "wb") as f:
                np.savez(f, **self._content())
            tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> Dataset:
        """Read a saved data set, refusing a file whose content no longer matches its name."""
        path = Path(path)
        if not path.exists():
            raise TrainingError(f"no data set at {path}: materialize training_dataset again")
        with np.load(path, allow_pickle=False) as z:
            days = tuple(dt.date.fromisoformat(x) for x in z["days"].tolist())
            data = MarketData(tuple(z["symbols"].tolist()), *(z[n] for n in _ARRAYS[:5]), days,
                              *(z[n] for n in _ARRAYS[5:]))
            dataset = cls(data, tuple(int(x) for x in z["split_sizes"]))
        if dataset.content_hash != path.stem:
            raise TrainingError(f"{path} does not hash to its name: the file changed; materialize training_dataset again")
        return dataset

    def summary(self) -> dict:
        out = {"hash": self.content_hash, "symbols": list(self.data.symbols), "bars": self.data.n_bars}
        for name in SPLITS:
            part = self.split(name)
            out[name] = {"sessions": len(part.days), "bars": part.n_bars, "first": str(part.days[0]),
                         "last": str(part.days[-1])}
        return out


def latest_session_with_bars(conn, symbols: Sequence[str]) -> dt.date:
    """The New York day of the newest bar every symbol has: the default end of a training window."""
    row = conn.execute(
        "SELECT min(last) FROM (SELECT max(ts) AS last FROM market_data.bars WHERE symbol = ANY(%s) GROUP BY symbol) m "
        "HAVING count(*) = %s", (list(symbols), len(symbols)),
    ).fetchone()
    if row is None or row[0] is None:
        raise TrainingError(f"market_data.bars has no bars for {', '.join(symbols)}: ingest market_bars first")
    return calendar.session_of(row[0])


def build_dataset(conn, symbols: Sequence[str], window: Window) -> Dataset:
    """The window's features from `market_data.bars`, refusing days QC blocked and days without bars.

    A day is blocked when QC never passed it (`store.reports.blocked_days`), as in the backtest: a
    re-ingestion QC refused leaves the table with the batch that did pass, which is fit to train on.
    """
    from ijules_core.store.bars import read_bars, slice_counts
    from ijules_core.store.reports import blocked_days

    days = window.days()
    blocked = blocked_days(conn, days[0], days[-1])
    if blocked:
        raise TrainingError(f"QC blocked {', '.join(map(str, blocked))} in the window {days[0]}..{days[-1]}: "
                            "re-ingest those days or move the window")
    counts = slice_counts(conn, days[0], days[-1])
    have = {d for d, n in counts[counts["symbol"].isin(symbols)].groupby("day")["symbol"].nunique().items()
            if n == len(symbols)}
    missing = [d for d in days if d not in have]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise TrainingError(f"{len(missing)} of {len(days)} sessions in {days[0]}..{days[-1]} have no bars for "
                            f"every symbol of {', '.join(symbols)} ({shown}): ingest them first or move the window")
    data = MarketData.from_bars(read_bars(conn, symbols, days[0], days[-1]), symbols)
    return Dataset(data, window.split_sizes())


def log_dataset(dataset: Dataset, path: Path) -> None:
    """The data set into the active MLflow run: its window, split sizes, hash and where it is saved."""
    import mlflow

    s = dataset.summary()
    mlflow.log_params({"symbols": ",".join(s["symbols"]), "first_session": s["train"]["first"],
                       "last_session": s["oos"]["last"], **{f"{n}_sessions": s[n]["sessions"] for n in SPLITS}})
    mlflow.set_tags({"dataset_hash": dataset.content_hash, "dataset_path": str(path)})
    mlflow.log_metric("bars", s["bars"])
    mlflow.log_dict(s, "dataset.json")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters. The defaults are the project's: ~13× the steps/s of SB3's RecurrentPPO
    defaults on 2 CPU cores (`benchmarks/bench_train.py`): 8 vectorised envs, bigger batches,
    4 epochs, a 64-unit LSTM, one torch thread. Same seed, data and thread count on CPU → same model."""

    algorithm: Literal["RecurrentPPO", "PPO"] = "RecurrentPPO"
    timesteps: int = 200_000
    seed: int = 0
    seeds: int = 1  # > 1: train seeds seed, seed+1, … and keep the best on validation
    n_envs: int = 8
    learning_rate: float = 3e-4
    n_steps: int = 128  # per env and rollout
    batch_size: int = 512
    n_epochs: int = 4
    ent_coef: float = 0.01
    gamma: float = 0.99
    lstm_hidden_size: int = 64  # RecurrentPPO only
    episode_length: int = 1000
    device: Literal["auto", "cpu", "cuda"] = "auto"
    torch_threads: int = 1  # small nets: one thread beats two on 2 shared cores; 0 leaves torch's setting
    warm_start: bool = False  # start from the champion's weights when its spaces and architecture match

    def __post_init__(self) -> None:
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise TrainingError(f"learning_rate must be a finite number > 0, got {self.learning_rate}")
        positive = ("timesteps", "seeds", "n_envs", "n_steps", "batch_size", "n_epochs", "lstm_hidden_size",
                    "episode_length")
        bad = [n for n in positive if getattr(self, n) < 1]
        if bad:
            raise TrainingError(f"TrainConfig: {', '.join(bad)} must be >= 1")
        if not 0 < self.gamma <= 1 or self.ent_coef < 0:
            raise TrainingError("TrainConfig: need 0 < gamma <= 1 and ent_coef >= 0")

    def env_config(self) -> EnvConfig:
        return EnvConfig(episode_length=self.episode_length)

    def sb3_kwargs(self) -> dict:
        kw = dict(learning_rate=self.learning_rate, n_steps=self.n_steps, batch_size=self.batch_size,
                  n_epochs=self.n_epochs, ent_coef=self.ent_coef, gamma=self.gamma, device=self.device)
        if self.algorithm == "RecurrentPPO":
            kw["policy_kwargs"] = {"lstm_hidden_size": self.lstm_hidden_size}
        return kw


def spec(env_config: EnvConfig, symbols: Sequence[str]) -> dict:
    """What a model was trained to see and do: logged beside it, checked before a warm start."""
    return {"symbols": list(symbols), "feature_names": list(FEATURE_NAMES), "observation_size": OBS_SIZE,
            "n_actions": N_ACTIONS, "env_config": asdict(env_config)}


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    return out


def _forwarding_logger(on_rollout: Callable[[int, dict[str, float]], None]):
    """An SB3 logger with no files that hands each rollout's figures on and stops a run whose loss is not finite."""
    from stable_baselines3.common.logger import KVWriter, Logger

    class Forward(KVWriter):
        def write(self, key_values: dict, key_excluded: dict, step: int = 0) -> None:
            figures = {k: float(v) for k, v in key_values.items() if isinstance(v, (int, float, np.number))}
            bad = [k for k, v in figures.items() if k.startswith("train/") and not math.isfinite(v)]
            if bad:
                raise TrainingError(f"training diverged at {step:,} timesteps: {', '.join(bad)} not finite "
                                    "(lower learning_rate)")
            on_rollout(step, figures)

    return Logger(folder=None, output_formats=[Forward()])  # `configure()` would create /tmp/SB3-* folders


def torch_cache_in_home() -> None:
    """Point torch's compile cache under $IJULES_HOME before torch first imports `torch._dynamo`
    (optimizers and model loading do), which would otherwise create `<tmp>/torchinductor_<user>`."""
    from ijules_core.config import Settings

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Settings.from_env().home / "torchinductor"))


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if not n or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_model(data: MarketData, config: TrainConfig, seed: int, warm_start=None):
    """A fresh SB3 model on `n_envs` copies of the env; with `warm_start` (an SB3 model), its weights.

    Returns (model, None) or, when the warm start could not be used, (model, reason).
    """
    torch_cache_in_home()
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO

    algo, policy = (RecurrentPPO, "MlpLstmPolicy") if config.algorithm == "RecurrentPPO" else (PPO, "MlpPolicy")
    venv = make_vec_env(data, config.env_config(), n_envs=config.n_envs, seed=seed)
    model = algo(policy, venv, seed=seed, verbose=0, **config.sb3_kwargs())
    if warm_start is None:
        return model, None
    if type(warm_start) is not algo:
        return model, f"champion is {type(warm_start).__name__}, not {algo.__name__}"
    if warm_start.observation_space != model.observation_space or warm_start.action_space != model.action_space:
        return model, "champion's observation or action space differs"
    try:
        model.set_parameters(warm_start.get_parameters(), exact_match=True, device=model.device)
    except (RuntimeError, ValueError) as exc:  # another architecture: shapes or keys differ
        return model, f"champion's architecture differs ({str(exc).splitlines()[0][:120]})"
    return model, None


def _finite(model) -> bool:
    return all(bool(p.isfinite().all()) for p in model.policy.parameters())


def learn(model, timesteps: int, on_rollout: Callable[[int, dict[str, float]], None] = lambda step, figures: None,
          torch_threads: int = 0):
    """`model.learn` with each rollout's figures sent to `on_rollout`; divergence → TrainingError."""
    model.set_logger(_forwarding_logger(on_rollout))
    try:
        with _torch_threads(torch_threads):
            model.learn(timesteps, log_interval=1)
    except TrainingError:
        raise
    except (ValueError, RuntimeError) as exc:  # NaN weights surface as torch distribution errors
        if _finite(model):
            raise
        raise TrainingError(f"training diverged after {model.num_timesteps:,} timesteps: the weights are no longer "
                            f"finite (learning_rate={model.learning_rate}; lower it)") from exc
    if not _finite(model):
        raise TrainingError(f"training diverged: non-finite weights after {model.num_timesteps:,} timesteps "
                            f"(learning_rate={model.learning_rate}; lower it)")
    return model


class RolloutLog:
    """Per-rollout figures to the active MLflow run, and a progress line every `every` rollouts."""

    KEYS = ("rollout/ep_rew_mean", "train/entropy_loss", "train/explained_variance", "train/clip_fraction",
            "time/fps")

    def __init__(self, report: Callable[[str], None], total: int, every: int = 10, prefix: str = "") -> None:
        self.report, self.total, self.every, self.prefix = report, total, max(1, every), prefix
        self.rollouts = 0

    def __call__(self, step: int, figures: dict[str, float]) -> None:
        import mlflow

        self.rollouts += 1
        mlflow.log_metrics({self.prefix + k: v for k, v in figures.items()}, step=step)
        if self.rollouts % self.every == 0 or step >= self.total:
            shown = ", ".join(f"{k.split('/')[1]}={figures[k]:.4g}" for k in self.KEYS if k in figures)
            self.report(f"{self.prefix}rollout {self.rollouts}: {step:,}/{self.total:,} timesteps — {shown}")


@dataclass
class TrainingResult:
    seed: int  # the seed kept
    validation: dict[int, dict]  # seed → metrics on the validation sessions
    warm_start: str  # "no", "champion v<N>" or why it was not used


MODEL_ARTIFACT = "model"  # the kept model, `model/policy.zip`: what the registry points at
SEEDS_ARTIFACT = "seeds"  # every seed's model, `seeds/seed_<n>/policy.zip`


def train_and_log(dataset: Dataset, config: TrainConfig, report: Callable[[str], None] = print,
                  champion=None, every: int = 10) -> TrainingResult:
    """Train every seed on the train split, pick the best on validation, log it all to the active MLflow run.

    `champion` (an `evaluation.Champion`) is where a warm start (`config.warm_start`) begins.
    """
    import mlflow

    from ijules_core.evaluation import evaluate
    from ijules_core.policy import SB3Policy

    train, validation = dataset.split("train"), dataset.split("validation")
    mlflow.log_params({**asdict(config), "dataset_hash": dataset.content_hash,
                       "train_sessions": len(train.days), "train_bars": train.n_bars})
    mlflow.set_tag("dataset_hash", dataset.content_hash)
    mlflow.log_dict(spec(config.env_config(), dataset.data.symbols), "spec.json")
    mlflow.log_dict(dataset.summary(), "dataset.json")
    mlflow.log_dict(package_versions(), "packages.json")
    seeds = [config.seed + i for i in range(config.seeds)]
    result = TrainingResult(seed=seeds[0], validation={}, warm_start="no")
    with tempfile.TemporaryDirectory(prefix="ijules-train-") as tmp:
        for seed in seeds:
            prefix = f"seed_{seed}/" if len(seeds) > 1 else ""
            model, refused = build_model(train, config, seed, champion.policy.model if config.warm_start and champion else None)
            if config.warm_start:
                result.warm_start = (refused or f"champion v{champion.version}") if champion else "no champion yet"
            report(f"training {config.algorithm} seed {seed} for {config.timesteps:,} timesteps on "
                   f"{len(train.days)} sessions ({train.n_bars:,} bars), warm start: {result.warm_start}")
            learn(model, config.timesteps, RolloutLog(report, config.timesteps, every, prefix), config.torch_threads)
            path = Path(tmp) / f"seed_{seed}" / "policy.zip"
            path.parent.mkdir()
            model.save(path)
            mlflow.log_artifact(str(path), f"{SEEDS_ARTIFACT}/seed_{seed}")
            metrics = evaluate(validation, SB3Policy(model, name=f"seed {seed}"), config.env_config())[0]
            result.validation[seed] = metrics
            mlflow.log_metrics({f"{prefix}val_{k}": float(v) for k, v in metrics.items() if _is_number(v)})
        result.seed = max(seeds, key=lambda s: result.validation[s]["sharpe"])
        mlflow.log_artifact(str(Path(tmp) / f"seed_{result.seed}" / "policy.zip"), MODEL_ARTIFACT)
    mlflow.log_params({"kept_seed": result.seed, "warm_start_from": result.warm_start})
    return result


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and math.isfinite(float(v))
