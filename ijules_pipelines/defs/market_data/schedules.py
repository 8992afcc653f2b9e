"""The clock of the market-data business: ingest after the close, validate after that."""

import dagster as dg

from ijules_core import calendar
from ijules_pipelines.defs.market_data.jobs import eod_validation_job, ingest_market_data


def _session_request(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.date()
    if not calendar.is_session(day):
        return dg.SkipReason(f"{day} is not an NYSE session")
    return dg.RunRequest(run_key=str(day), partition_key=str(day))


@dg.schedule(
    cron_schedule="15 16 * * 1-5",
    execution_timezone=calendar.TZ,
    job=ingest_market_data,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Ingest the day's bars at 16:15 New York time on trading days (after the close, early closes too).",
)
def ingest_after_close(context: dg.ScheduleEvaluationContext):
    return _session_request(context)


@dg.schedule(
    cron_schedule="45 16 * * 1-5",
    execution_timezone=calendar.TZ,
    job=eod_validation_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="End-of-day validation at 16:45 New York time on trading days.",
)
def eod_validation_schedule(context: dg.ScheduleEvaluationContext):
    return _session_request(context)
