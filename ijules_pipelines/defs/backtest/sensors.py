"""Backtest again whenever the `champion` alias moves to another model version."""

import dagster as dg
import pandas as pd

from ijules_core import calendar
from ijules_core.tracking import MODEL_NAME
from ijules_pipelines.defs.backtest.jobs import nightly_backtest_job
from ijules_pipelines.resources import MLflowResource


@dg.sensor(job=nightly_backtest_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Runs the backtest on the last completed session when the MLflow alias `champion` moves.")
def champion_moved_sensor(context: dg.SensorEvaluationContext, mlflow: MLflowResource):
    version = mlflow.tracker().alias_version(MODEL_NAME)
    if version is None:
        return dg.SkipReason(f"{MODEL_NAME} has no champion yet")
    if context.cursor == str(version.version):
        return dg.SkipReason(f"champion still at version {version.version}")
    now = pd.Timestamp.now(tz=calendar.TZ)
    day = calendar.previous_sessions(now.date() - pd.Timedelta(days=1), 1)[0]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"champion-v{version.version}", partition_key=str(day))],
        cursor=str(version.version),
    )
