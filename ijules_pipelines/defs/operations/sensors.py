"""Operations: alert on any failed run in the code location."""

import dagster as dg

from ijules_pipelines.resources import AlertResource


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Logs every failed run and posts it to IJULES_ALERT_WEBHOOK_URL when set.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, alerts: AlertResource) -> None:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition") or "-".join(
        filter(None, [run.tags.get("dagster/asset_partition_range_start"), run.tags.get("dagster/asset_partition_range_end")])
    )
    error = context.failure_event.message or "run failed"
    alerts.send(
        f"IntradayJules run failed: {run.job_name}" + (f" [{partition}]" if partition else ""),
        f"run {run.run_id}: {error}",
    )
