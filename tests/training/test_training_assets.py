"""Training as Dagster assets against a real PostgreSQL (bars, Dagster events, MLflow store)."""

import datetime as dt
import tempfile
from zoneinfo import ZoneInfo

import dagster as dg
import mlflow.store.db.utils
import pytest
from training_data import DAYS, FAST, WINDOW, bars, resources, seed_bars

from ijules_core.store import connect, mlflow_url
from ijules_core.tracking import CHAMPION, MODEL_NAME, Tracker
from ijules_pipelines.definitions import defs
from ijules_pipelines.defs.training.assets import champion_policy, policy_evaluation, trained_policy, training_dataset
from ijules_pipelines.defs.training.checks import champion_gates
from ijules_pipelines.defs.training.schedules import weekly_retrain_schedule

ASSETS = [training_dataset, trained_policy, policy_evaluation, champion_gates, champion_policy]
TREND = {"drift_per_day": 0.05, "annual_vol": 0.05}  # every session rises ~5 % with little noise: long pays
LEARN_TREND = {"timesteps": 12_288, "n_envs": 8}  # enough PPO to learn to hold longs there (~5 s)
UNREACHABLE = "postgresql+psycopg2://ijules@127.0.0.1:9/nowhere"  # nothing listens on port 9


@pytest.fixture
def instance(tmp_path, monkeypatch):
    monkeypatch.setenv("IJULES_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # SB3 / torch litter would land here
    with dg.instance_for_test() as instance:
        yield instance


def _materialize(instance, db_url, tmp_path, policy=None, gates=None, only=None, tracking_uri=None):
    """Materialize the training assets (`only`: some of them, with their checks) with fast settings."""
    ops = {"training_dataset": {"config": WINDOW}, "trained_policy": {"config": {**FAST, **(policy or {})}},
           "policy_evaluation_champion_gates": {"config": gates or {}}}
    if only:
        names = {a.key.to_user_string() for a in only}
        ops = {name: cfg for name, cfg in ops.items() if name.removesuffix("_champion_gates") in names}
    return dg.materialize(ASSETS, instance=instance, run_config={"ops": ops}, raise_on_error=False,
                          selection=dg.AssetSelection.assets(*only) if only else None,
                          resources=resources(db_url, tmp_path / "mlartifacts", tracking_uri))


def _meta(result, node):
    (m,) = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in m.metadata.items()}


def _error(result) -> str:
    return "\n".join(str(e.step_failure_data.error) for e in result.all_events if e.is_step_failure)


def _tracker(db_url, tmp_path) -> Tracker:
    return Tracker(mlflow_url(db_url), "ijules", str(tmp_path / "mlartifacts"))


def _versions(db_url, tmp_path) -> list:
    return _tracker(db_url, tmp_path).client.search_model_versions(f"name='{MODEL_NAME}'")


def test_a_model_that_learned_the_trend_becomes_champion_and_an_untrained_one_does_not(db_url, tmp_path, instance):
    seed_bars(db_url, bars(**TREND))
    first = _materialize(instance, db_url, tmp_path, policy=LEARN_TREND)  # default gates
    assert first.success, _error(first)
    (check,) = first.get_asset_check_evaluations()
    assert check.passed and check.metadata["beats_champion"].value == "pass: no champion yet"
    evaluation = _meta(first, "policy_evaluation")
    assert evaluation["oos_sharpe"] >= 0.3 and evaluation["champion_version"] == "none"
    assert "data:image/png;base64," in evaluation["report"] and "buy_and_hold" in evaluation["report"]
    champion = _meta(first, "champion_policy")
    assert (champion["version"], champion["alias_moved"]) == ("1", True)

    tracker = _tracker(db_url, tmp_path)
    training = _meta(first, "trained_policy")
    assert tracker.alias_version(MODEL_NAME, CHAMPION).run_id == training["mlflow_run_id"] == champion["mlflow_run_id"]
    for node in ("training_dataset", "trained_policy", "policy_evaluation"):
        meta = _meta(first, node)
        run = tracker.client.get_run(meta["mlflow_run_id"])
        assert run.data.tags["dagster.run_id"] == first.run_id
        assert run.data.tags["dagster.asset_key"] == node and run.data.tags["dagster.partition"] == "none"
        assert meta["mlflow_run_url"].endswith(f"/runs/{run.info.run_id}")
    run = tracker.client.get_run(training["mlflow_run_id"])
    assert run.data.params["algorithm"] == "PPO" and run.data.params["dataset_hash"] == training["dataset_hash"]
    assert len(tracker.client.get_metric_history(run.info.run_id, "train/entropy_loss")) >= 20  # one per rollout
    assert {"rollout/ep_rew_mean", "train/explained_variance", "train/clip_fraction", "time/fps"} <= set(run.data.metrics)
    artifacts = {a.path for a in tracker.client.list_artifacts(run.info.run_id)}
    assert {"model", "seeds", "spec.json", "packages.json", "dataset.json"} <= artifacts
    eval_run = tracker.client.get_run(evaluation["mlflow_run_id"])
    assert eval_run.data.tags["mlflow.parentRunId"] == run.info.run_id and eval_run.data.tags["ijules.gates"] == "passed"
    assert {"equity.png", "evaluation.json", "report.md"} <= {a.path for a in tracker.client.list_artifacts(eval_run.info.run_id)}
    assert eval_run.data.metrics["oos_sharpe"] == pytest.approx(evaluation["oos_sharpe"])

    # barely trained, two seeds: compared with the champion on the same sessions, and refused
    second = _materialize(instance, db_url, tmp_path, policy={"timesteps": 512, "seeds": 2, "seed": 10})
    assert not second.success
    (check,) = second.get_asset_check_evaluations()
    assert not check.passed and check.metadata["beats_champion"].value.startswith("FAIL")
    assert "seed_cv" in check.metadata
    assert _meta(second, "policy_evaluation")["champion_version"] == "1"
    assert not second.asset_materializations_for_node("champion_policy")
    assert [str(v.version) for v in _versions(db_url, tmp_path)] == ["1"]
    assert str(tracker.alias_version(MODEL_NAME).version) == "1"

    # promoting that evaluation by hand is refused too: its MLflow run says the gates failed
    forced = _materialize(instance, db_url, tmp_path, only=[champion_policy])
    assert not forced.success and "gates have not passed" in _error(forced)
    assert [str(v.version) for v in _versions(db_url, tmp_path)] == ["1"]
    assert not list(tmp_path.glob("SB3-*")) and not list(tmp_path.glob("torchinductor_*"))


def test_a_window_with_a_day_qc_blocked_is_refused(db_url, tmp_path, instance):
    seed_bars(db_url, bars())
    with connect(db_url) as conn:
        conn.execute("INSERT INTO market_data.qc_reports (partition, symbol, outcome, metrics) VALUES (%s, '*', 'BLOCK', '{}')",
                     (DAYS[3],))
        conn.commit()
    result = _materialize(instance, db_url, tmp_path)
    assert not result.success
    assert f"QC blocked {DAYS[3]}" in _error(result)
    assert not result.asset_materializations_for_node("trained_policy")
    assert not _versions(db_url, tmp_path)


def test_an_empty_window_is_refused(db_url, tmp_path, instance):
    result = _materialize(instance, db_url, tmp_path)
    assert not result.success and "10 of 10 sessions" in _error(result) and "ingest them first" in _error(result)


def test_a_diverging_learning_rate_fails_clearly_and_registers_nothing(db_url, tmp_path, instance):
    seed_bars(db_url, bars())
    result = _materialize(instance, db_url, tmp_path, policy={"learning_rate": 1e20})
    assert not result.success
    assert "TrainingError" in _error(result) and "diverged" in _error(result)
    assert not result.asset_materializations_for_node("policy_evaluation")
    assert not _versions(db_url, tmp_path)


def test_an_unreachable_mlflow_store_fails_clearly_and_moves_nothing(db_url, tmp_path, instance, monkeypatch):
    monkeypatch.setattr(mlflow.store.db.utils, "MAX_RETRY_COUNT", 1)  # MLflow would retry for ~100 s
    seed_bars(db_url, bars())
    refused = _materialize(instance, db_url, tmp_path, tracking_uri=UNREACHABLE)
    assert not refused.success and "TrackingError" in _error(refused) and "127.0.0.1:9" in _error(refused)
    assert not refused.asset_materializations_for_node("training_dataset")

    # the store goes away between a passed gate and the promotion: nothing registered, no alias
    gated = _materialize(instance, db_url, tmp_path, gates={"min_sharpe": -1e9, "beat_flat": False},
                         only=[training_dataset, trained_policy, policy_evaluation])
    assert gated.success and gated.get_asset_check_evaluations()[0].passed
    lost = _materialize(instance, db_url, tmp_path, only=[champion_policy], tracking_uri=UNREACHABLE)
    assert not lost.success and "TrackingError" in _error(lost)
    assert not _versions(db_url, tmp_path)
    assert _tracker(db_url, tmp_path).alias_version(MODEL_NAME) is None


def test_weekly_retrain_schedule_and_job_are_defined():
    definitions = defs()
    job = definitions.resolve_job_def("training_job")
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {
        "training_dataset", "trained_policy", "policy_evaluation", "champion_policy"}
    ctx = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2025, 11, 29, 3, 0, tzinfo=ZoneInfo("America/New_York")))
    (request,) = weekly_retrain_schedule.evaluate_tick(ctx).run_requests
    assert request.run_key == "retrain-2025-11-29" and weekly_retrain_schedule.cron_schedule == "0 3 * * 6"
