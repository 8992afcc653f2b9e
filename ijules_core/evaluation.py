"""Out-of-sample evaluation of a trained policy, and the gates it must pass to become champion.

The model, the baselines (flat, buy-and-hold, random) and the current champion are replayed
over the same out-of-sample sessions through the shared execution path (`backtest.replay`:
the env's observation, governor, broker and portfolio; policies reset at each session), so
the figures are the ones a backtest of those days would show. Metrics come from
`metrics.summary`: Sharpe from daily returns × √252.

"Beats X" compares out-of-sample Sharpe, strictly. With no champion yet, that gate passes.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ijules_core.backtest import Replay, replay
from ijules_core.env import EnvConfig
from ijules_core.features import MarketData
from ijules_core.policy import BuyAndHoldPolicy, FlatPolicy, Policy, RandomPolicy, SB3Policy, load_model

MODEL, CHAMPION = "model", "champion"
REPORTED = ("total_return", "sharpe", "max_drawdown", "turnover", "fees", "win_rate", "trades")


def evaluate(data: MarketData, policy: Policy, config: EnvConfig = EnvConfig()) -> tuple[dict, Replay]:
    """Metrics of `policy` over every session of `data`, and the replay they come from."""
    result = replay(data, policy, config)
    return result.metrics(config.initial_cash), result


def coefficient_of_variation(values) -> float:
    """σ/|μ| of the values (sample σ); infinite when the mean is 0."""
    values = np.asarray(list(values), dtype=np.float64)
    if len(values) < 2:
        return 0.0
    mean = float(np.mean(values))
    return float(np.std(values, ddof=1) / abs(mean)) if mean else math.inf


@dataclass
class Evaluation:
    """Out-of-sample metrics per policy ("model", the baselines, "champion" when there is one)."""

    days: list[str]
    metrics: dict[str, dict]
    champion_version: str | None = None
    seed_sharpe: dict[str, float] = field(default_factory=dict)  # multi-seed runs: OOS Sharpe of every seed
    replays: dict[str, Replay] = field(default_factory=dict, repr=False)  # not serialised: for the chart

    @property
    def seed_cv(self) -> float | None:
        return coefficient_of_variation(self.seed_sharpe.values()) if len(self.seed_sharpe) > 1 else None

    def to_dict(self) -> dict:
        return {"days": self.days, "metrics": self.metrics, "champion_version": self.champion_version,
                "seed_sharpe": self.seed_sharpe, "seed_cv": self.seed_cv}

    @classmethod
    def from_dict(cls, doc: Mapping) -> Evaluation:
        return cls(list(doc["days"]), dict(doc["metrics"]), doc.get("champion_version"), dict(doc.get("seed_sharpe", {})))

    def chart(self) -> bytes:
        from ijules_core.charts import equity_curves_chart

        first = next(iter(self.replays.values()))
        return equity_curves_chart(first.ts, {k: r.equity for k, r in self.replays.items()},
                                   f"out of sample, {self.days[0]}..{self.days[-1]}")

    def to_markdown(self, chart_md: str = "") -> str:
        lines = [f"### Out-of-sample evaluation — {len(self.days)} sessions {self.days[0]}..{self.days[-1]}", ""]
        if chart_md:
            lines += [chart_md, ""]
        lines += ["| policy | return | Sharpe | max DD | turnover | fees | win rate | trades |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, m in self.metrics.items():
            label = f"champion v{self.champion_version}" if name == CHAMPION else name
            lines.append(f"| {label} | {m['total_return']:.3%} | {m['sharpe']:.2f} | {m['max_drawdown']:.3%} | "
                         f"{m['turnover']:.2f} | ${m['fees']:.2f} | {m['win_rate']:.0%} | {m['trades']} |")
        if self.seed_sharpe:
            shown = ", ".join(f"seed {s}: {v:.2f}" for s, v in self.seed_sharpe.items())
            lines += ["", f"Sharpe by seed: {shown} — coefficient of variation {self.seed_cv:.0%}"]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Champion:
    """The model version holding the `champion` alias, loaded."""

    version: str
    run_id: str
    policy: SB3Policy


def evaluate_candidate(data: MarketData, model: Policy, champion: Champion | None = None,
                       seed_policies: Mapping[str, Policy] | None = None, config: EnvConfig = EnvConfig(),
                       random_seed: int = 0) -> Evaluation:
    """The model against the baselines and the champion on the same sessions."""
    policies: dict[str, Policy] = {MODEL: model, "flat": FlatPolicy(), "buy_and_hold": BuyAndHoldPolicy(),
                                   "random": RandomPolicy(random_seed)}
    if champion is not None:
        policies[CHAMPION] = champion.policy
    ev = Evaluation([str(d) for d in data.days], {}, champion.version if champion else None)
    for name, policy in policies.items():
        ev.metrics[name], ev.replays[name] = evaluate(data, policy, config)
    for seed, policy in (seed_policies or {}).items():
        ev.seed_sharpe[str(seed)] = evaluate(data, policy, config)[0]["sharpe"]
    return ev


@dataclass(frozen=True)
class Gates:
    """What a model must show out of sample to become champion."""

    min_sharpe: float = 0.3
    beat_flat: bool = True
    beat_champion: bool = True
    max_seed_cv: float = 0.3  # multi-seed runs only: σ/μ of the seeds' Sharpe

    def check(self, ev: Evaluation) -> dict[str, tuple[bool, str]]:
        """Each gate → (passed, what was compared)."""
        sharpe = ev.metrics[MODEL]["sharpe"]
        out = {"min_sharpe": (sharpe >= self.min_sharpe, f"Sharpe {sharpe:.3f} vs minimum {self.min_sharpe}")}
        if self.beat_flat:
            flat = ev.metrics["flat"]["sharpe"]
            out["beats_flat"] = (sharpe > flat, f"Sharpe {sharpe:.3f} vs flat {flat:.3f}")
        if self.beat_champion:
            if CHAMPION in ev.metrics:
                champ = ev.metrics[CHAMPION]["sharpe"]
                out["beats_champion"] = (sharpe > champ, f"Sharpe {sharpe:.3f} vs champion v{ev.champion_version} {champ:.3f}")
            else:
                out["beats_champion"] = (True, "no champion yet")
        if ev.seed_cv is not None:
            out["seed_cv"] = (ev.seed_cv < self.max_seed_cv, f"σ/μ of Sharpe over {len(ev.seed_sharpe)} seeds "
                                                              f"{ev.seed_cv:.0%} vs maximum {self.max_seed_cv:.0%}")
        return out


def load_champion(tracker, dst: Path) -> Champion | None:
    """The model holding the `champion` alias (downloaded into `dst`), or None when there is none."""
    import mlflow

    from ijules_core.tracking import MODEL_NAME
    from ijules_core.training import torch_cache_in_home

    torch_cache_in_home()
    version = tracker.alias_version(MODEL_NAME)
    if version is None:
        return None
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=version.source, dst_path=str(dst),
                                                     tracking_uri=tracker.tracking_uri))
    path = local if local.is_file() else next(local.rglob("*.zip"))
    return Champion(str(version.version), version.run_id, SB3Policy(load_model(path), name=f"champion v{version.version}"))


def evaluate_training_run(tracker, run_id: str, data: MarketData, dst: Path, random_seed: int = 0) -> Evaluation:
    """Download the run's kept model (and every seed's, for a multi-seed run) and evaluate it on `data`."""
    from ijules_core.training import MODEL_ARTIFACT, SEEDS_ARTIFACT, torch_cache_in_home

    torch_cache_in_home()

    def load(artifact: str, name: str) -> SB3Policy:
        local = tracker.download(run_id, artifact, dst / artifact)
        return SB3Policy(load_model(next(local.rglob("*.zip"))), name=name)

    model = load(MODEL_ARTIFACT, "model")
    seeds = sorted((a.path.rsplit("_", 1)[1] for a in tracker.client.list_artifacts(run_id, SEEDS_ARTIFACT)), key=int)
    seed_policies = {s: load(f"{SEEDS_ARTIFACT}/seed_{s}", f"seed {s}") for s in seeds} if len(seeds) > 1 else {}
    return evaluate_candidate(data, model, load_champion(tracker, dst / CHAMPION), seed_policies,
                              random_seed=random_seed)


def log_evaluation(ev: Evaluation, png: bytes, report_md: str) -> None:
    """The evaluation into the active MLflow run: `oos_*` metrics of the model, `<baseline>_*` of the others."""
    import mlflow

    for name, m in ev.metrics.items():
        prefix = "oos_" if name == MODEL else f"{name}_"
        mlflow.log_metrics({prefix + k: float(m[k]) for k in REPORTED})
    if ev.seed_cv is not None:
        mlflow.log_metric("oos_seed_sharpe_cv", ev.seed_cv)
    mlflow.log_dict(ev.to_dict(), "evaluation.json")
    mlflow.log_text(report_md, "report.md")
    with tempfile.TemporaryDirectory(prefix="ijules-eval-") as tmp:
        path = Path(tmp) / "equity.png"
        path.write_bytes(png)
        mlflow.log_artifact(str(path))


GATES_TAG = "ijules.gates"  # on the evaluation run: "passed" or "failed", set by the gate check


def record_gates(tracker, evaluation_run_id: str, results: Mapping[str, tuple[bool, str]]) -> bool:
    """Write the gates' verdict on the evaluation run (the promotion step requires "passed")."""
    passed = all(ok for ok, _ in results.values())
    tracker.client.set_tag(evaluation_run_id, GATES_TAG, "passed" if passed else "failed")
    for name, (ok, detail) in results.items():
        tracker.client.set_tag(evaluation_run_id, f"{GATES_TAG}.{name}", f"{'pass' if ok else 'FAIL'}: {detail}")
    return passed


def promote(tracker, training_run_id: str, evaluation_run_id: str, evaluated_against: str | None) -> tuple[str, bool]:
    """Register the training run's model and move the `champion` alias to it; returns (version, moved).

    Refuses unless the gates passed on that evaluation and the champion is still the version the
    model was evaluated against. A model that already is champion is left as it is.
    """
    from ijules_core.tracking import MODEL_NAME
    from ijules_core.training import MODEL_ARTIFACT, TrainingError

    verdict = tracker.client.get_run(evaluation_run_id).data.tags.get(GATES_TAG)
    if verdict != "passed":
        raise TrainingError(f"the gates have not passed on evaluation run {evaluation_run_id} ({verdict or 'not checked'}): "
                            "nothing registered")
    current = tracker.alias_version(MODEL_NAME)
    if current is not None and current.run_id == training_run_id:
        return str(current.version), False
    now = str(current.version) if current else None
    if now != evaluated_against:
        raise TrainingError(f"the champion moved from {evaluated_against or 'none'} to v{now} since the evaluation: "
                            "evaluate again")
    version = tracker.register(training_run_id, MODEL_ARTIFACT, MODEL_NAME,
                               tags={"evaluation_run_id": evaluation_run_id, "replaces": now or "none"})
    tracker.set_alias(MODEL_NAME, version)
    return str(version), True
