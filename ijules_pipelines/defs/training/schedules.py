import dagster as dg

from ijules_core import calendar
from ijules_pipelines.defs.training.jobs import training_job


@dg.schedule(
    cron_schedule="0 3 * * 6",
    execution_timezone=calendar.TZ,
    job=training_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="03:00 New York on Saturdays: retrain on the latest sessions once the week's data and backtests are in.",
)
def weekly_retrain_schedule(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(run_key=f"retrain-{context.scheduled_execution_time.date()}")
