import datetime as dt

import dagster as dg

from ijules_core import calendar
from ijules_pipelines.defs.backtest.jobs import nightly_backtest_job


@dg.schedule(
    cron_schedule="0 1 * * 2-6",
    execution_timezone=calendar.TZ,
    job=nightly_backtest_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="01:00 New York, Tuesday to Saturday: backtest the champion on the session that just ended.",
)
def nightly_backtest_schedule(context: dg.ScheduleEvaluationContext):
    now = context.scheduled_execution_time
    day = calendar.previous_sessions(now.date() - dt.timedelta(days=1), 1)[0]
    return dg.RunRequest(run_key=f"nightly-{day}", partition_key=str(day))
