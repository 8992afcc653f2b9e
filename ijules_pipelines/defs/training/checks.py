"""The promotion gate: a blocking check on the evaluation, so only a model that passes becomes champion."""

import dagster as dg

from ijules_core.evaluation import Evaluation, Gates, record_gates
from ijules_pipelines.defs.training.assets import open_tracker, policy_evaluation, upstream
from ijules_pipelines.resources import MLflowResource


class GatesConfig(dg.Config):
    min_sharpe: float = Gates.min_sharpe
    beat_flat: bool = Gates.beat_flat
    beat_champion: bool = Gates.beat_champion
    max_seed_cv: float = Gates.max_seed_cv


@dg.asset_check(asset=policy_evaluation, blocking=True,
                description="OOS Sharpe >= min_sharpe, beats flat and the current champion, seeds agree (σ/μ)")
def champion_gates(context: dg.AssetCheckExecutionContext, config: GatesConfig,
                   mlflow: MLflowResource) -> dg.AssetCheckResult:
    ev = upstream(context, policy_evaluation)
    results = Gates(**config.model_dump()).check(Evaluation.from_dict(ev["evaluation"]))
    passed = record_gates(open_tracker(mlflow), ev["mlflow_run_id"], results)
    failed = [f"{name} ({detail})" for name, (ok, detail) in results.items() if not ok]
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="gates passed" if passed else f"not promoted: {'; '.join(failed)}",
        metadata={name: f"{'pass' if ok else 'FAIL'}: {detail}" for name, (ok, detail) in results.items()},
    )
