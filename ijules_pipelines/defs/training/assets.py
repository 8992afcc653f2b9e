"""Training: data set → policy → out-of-sample evaluation → (gates) → the MLflow alias `champion`.

Each asset is a thin wrapper over `ijules_core.training` / `ijules_core.evaluation` with its
own MLflow run, tagged with the Dagster run, asset key and partition. Big arrays never go
through the IO manager: the data set is an `.npz` named by its hash, the models are MLflow
artifacts, and each asset finds its upstream through the upstream's latest materialization
metadata (path, MLflow run id).

Only a model that passes the blocking `champion_gates` check is registered: a failing model gets
no model version and moves no alias; its evaluation run in MLflow carries the verdict (tag
`ijules.gates` = failed, one `ijules.gates.<gate>` tag per gate).
"""

import tempfile
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from ijules_core import calendar
from ijules_core.charts import markdown_image
from ijules_core.config import Settings
from ijules_core.evaluation import evaluate_training_run, load_champion, log_evaluation, promote
from ijules_core.store.db import redact_url
from ijules_core.tracking import MODEL_NAME, Tracker, TrackingError
from ijules_core.training import (Dataset, TrainConfig, Window, build_dataset, latest_session_with_bars, log_dataset,
                                  train_and_log)
from ijules_pipelines.defs.market_data.assets import market_bars
from ijules_pipelines.resources import BarSourceResource, MLflowResource, StoreResource


def open_tracker(resource: MLflowResource) -> Tracker:
    """`resource.tracker()`, with a store that cannot be reached reported as a TrackingError.

    MlflowClient connects to a database store in its constructor, before `Tracker`'s own check.
    """
    try:
        return resource.tracker()
    except TrackingError:
        raise
    except Exception as exc:
        where = redact_url(resource.tracking_uri) if resource.tracking_uri else "the project database (schema mlflow)"
        raise TrackingError(f"MLflow tracking store {where} cannot be reached: "
                            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}") from exc


def mlflow_tags(context) -> dict[str, str]:
    return {"dagster.run_id": context.run.run_id, "dagster.asset_key": context.asset_key.to_user_string(),
            "dagster.partition": context.partition_key if context.has_partition_key else "none"}


def mlflow_metadata(tracker, run_id: str) -> dict:
    return {"mlflow_run_id": run_id, "mlflow_run_url": dg.MetadataValue.url(tracker.run_url(run_id))}


def upstream(context, asset: dg.AssetsDefinition) -> dict:
    """The metadata of `asset`'s materialization in this run, else its latest one, as plain values.

    This run's own comes first, so two training runs side by side never read each other's.
    """
    records = context.instance.get_records_for_run(context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION,
                                                   ascending=False).records
    event = next((r.event_log_entry for r in records if r.event_log_entry.dagster_event.asset_key == asset.key),
                 None) or context.instance.get_latest_materialization_event(asset.key)
    if event is None:
        raise dg.Failure(f"{asset.key.to_user_string()} has never been materialized: materialize it first")
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


class TrainingDatasetConfig(dg.Config):
    end: str | None = Field(None, description="last session of the window (YYYY-MM-DD); default: the newest day "
                                              "every symbol has in market_data.bars")
    sessions: int = Window.sessions
    validation_sessions: int = Window.validation_sessions
    oos_sessions: int = Window.oos_sessions


@dg.asset(group_name="training", deps=[market_bars], kinds={"postgres", "numpy", "mlflow"})
def training_dataset(context: dg.AssetExecutionContext, config: TrainingDatasetConfig, store: StoreResource,
                     bar_source: BarSourceResource, mlflow: MLflowResource) -> dg.MaterializeResult:
    """Feature arrays of a window of sessions from market_data.bars, split train / validation / OOS by date."""
    tracker = open_tracker(mlflow)
    store.ensure_schema()
    with store.connect() as conn:
        end = (calendar.require_session(config.end).date() if config.end
               else latest_session_with_bars(conn, bar_source.symbols))
        window = Window(end, config.sessions, config.validation_sessions, config.oos_sessions)
        dataset = build_dataset(conn, bar_source.symbols, window)
    path = dataset.save(Settings.from_env().home / "datasets")
    with tracker.start_run("training_dataset", mlflow_tags(context)) as run:
        log_dataset(dataset, path)
    s = dataset.summary()
    context.log.info(f"data set {s['hash'][:12]}: {s['bars']:,} bars, {s['train']['first']}..{s['oos']['last']}")
    return dg.MaterializeResult(metadata={
        **mlflow_metadata(tracker, run.info.run_id),
        "hash": s["hash"],
        "path": dg.MetadataValue.path(str(path)),
        "bars": dg.MetadataValue.int(s["bars"]),
        **{f"{n}_sessions": dg.MetadataValue.int(s[n]["sessions"]) for n in ("train", "validation", "oos")},
        **{f"{n}_days": f"{s[n]['first']}..{s[n]['last']}" for n in ("train", "validation", "oos")},
    })


class TrainedPolicyConfig(dg.Config):
    algorithm: Literal["RecurrentPPO", "PPO"] = TrainConfig.algorithm
    timesteps: int = TrainConfig.timesteps
    seed: int = TrainConfig.seed
    seeds: int = Field(TrainConfig.seeds, description="> 1: train that many seeds, keep the best on validation, "
                                                       "and gate on the spread of their OOS Sharpe")
    n_envs: int = TrainConfig.n_envs
    learning_rate: float = TrainConfig.learning_rate
    n_steps: int = TrainConfig.n_steps
    batch_size: int = TrainConfig.batch_size
    n_epochs: int = TrainConfig.n_epochs
    ent_coef: float = TrainConfig.ent_coef
    gamma: float = TrainConfig.gamma
    lstm_hidden_size: int = TrainConfig.lstm_hidden_size
    episode_length: int = TrainConfig.episode_length
    device: Literal["auto", "cpu", "cuda"] = TrainConfig.device
    torch_threads: int = TrainConfig.torch_threads
    warm_start: bool = Field(TrainConfig.warm_start, description="start from the champion's weights when its "
                                                                 "algorithm, spaces and architecture match")
    log_every: int = Field(10, description="rollouts between progress lines in the Dagster log")


@dg.asset(group_name="training", deps=[training_dataset], kinds={"pytorch", "mlflow"})
def trained_policy(context: dg.AssetExecutionContext, config: TrainedPolicyConfig,
                   mlflow: MLflowResource) -> dg.MaterializeResult:
    """A PPO / RecurrentPPO policy trained on the data set's train sessions, saved as an MLflow artifact."""
    data = upstream(context, training_dataset)
    dataset = Dataset.load(Path(data["path"]))
    train_config = TrainConfig(**config.model_dump(exclude={"log_every"}))
    tracker = open_tracker(mlflow)
    with tempfile.TemporaryDirectory(prefix="ijules-champion-") as tmp:
        champion = load_champion(tracker, Path(tmp)) if train_config.warm_start else None
        with tracker.start_run("trained_policy", {**mlflow_tags(context), "dataset_run_id": data["mlflow_run_id"]}) as run:
            result = train_and_log(dataset, train_config, context.log.info, champion, config.log_every)
    kept = result.validation[result.seed]
    return dg.MaterializeResult(metadata={
        **mlflow_metadata(tracker, run.info.run_id),
        "algorithm": train_config.algorithm,
        "timesteps": dg.MetadataValue.int(train_config.timesteps),
        "seed": dg.MetadataValue.int(result.seed),
        "validation_sharpe": dg.MetadataValue.float(float(kept["sharpe"])),
        "validation_return": dg.MetadataValue.float(float(kept["total_return"])),
        "warm_start": result.warm_start,
        "dataset_hash": dataset.content_hash,
        "dataset_path": dg.MetadataValue.path(data["path"]),
    })


class PolicyEvaluationConfig(dg.Config):
    random_seed: int = Field(0, description="seed of the random baseline")


@dg.asset(group_name="training", deps=[trained_policy], kinds={"mlflow"})
def policy_evaluation(context: dg.AssetExecutionContext, config: PolicyEvaluationConfig,
                      mlflow: MLflowResource) -> dg.MaterializeResult:
    """The trained policy on the out-of-sample sessions against flat, buy-and-hold, random and the champion."""
    training = upstream(context, trained_policy)
    oos = Dataset.load(Path(training["dataset_path"])).split("oos")
    tracker = open_tracker(mlflow)
    with tempfile.TemporaryDirectory(prefix="ijules-eval-") as tmp:
        ev = evaluate_training_run(tracker, training["mlflow_run_id"], oos, Path(tmp), config.random_seed)
    png = ev.chart()
    report = ev.to_markdown(markdown_image(png, "out-of-sample equity"))
    tags = {**mlflow_tags(context), "mlflow.parentRunId": training["mlflow_run_id"],
            "training_run_id": training["mlflow_run_id"], "dataset_hash": training["dataset_hash"]}
    with tracker.start_run("policy_evaluation", tags) as run:
        log_evaluation(ev, png, report)
    model = ev.metrics["model"]
    return dg.MaterializeResult(metadata={
        **mlflow_metadata(tracker, run.info.run_id),
        "training_run_id": training["mlflow_run_id"],
        "champion_version": ev.champion_version or "none",
        "oos_sharpe": dg.MetadataValue.float(float(model["sharpe"])),
        "oos_return": dg.MetadataValue.float(float(model["total_return"])),
        "oos_max_drawdown": dg.MetadataValue.float(float(model["max_drawdown"])),
        "evaluation": dg.MetadataValue.json(ev.to_dict()),
        "report": dg.MetadataValue.md(report),
    })


@dg.asset(group_name="training", deps=[policy_evaluation], kinds={"mlflow"})
def champion_policy(context: dg.AssetExecutionContext, mlflow: MLflowResource) -> dg.MaterializeResult:
    """The evaluated model registered as a version of the policy model, holding the alias `champion`.

    Runs only after the blocking `champion_gates` check passed on the evaluation (and refuses on
    its own when the gates did not pass on the evaluation it would promote).
    """
    ev = upstream(context, policy_evaluation)
    tracker = open_tracker(mlflow)
    against = None if ev["champion_version"] == "none" else ev["champion_version"]
    version, moved = promote(tracker, ev["training_run_id"], ev["mlflow_run_id"], against)
    context.log.info(f"{MODEL_NAME}@champion -> v{version}" + ("" if moved else " (already champion)"))
    return dg.MaterializeResult(metadata={
        **mlflow_metadata(tracker, ev["training_run_id"]),
        "model": MODEL_NAME,
        "version": version,
        "previous_champion": ev["champion_version"],
        "alias_moved": moved,
        "evaluation_run_url": dg.MetadataValue.url(tracker.run_url(ev["mlflow_run_id"])),
    })
