import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from ijules_pipelines.definitions import defs
from ijules_pipelines.defs.market_data.schedules import ingest_after_close
from ijules_pipelines.defs.operations.sensors import alert_on_run_failure
from ijules_pipelines.resources import AlertResource

NY = ZoneInfo("America/New_York")


def _tick(day: dt.date):
    ctx = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime.combine(day, dt.time(16, 15), NY),
        repository_def=defs().get_repository_def(),
    )
    return ingest_after_close.evaluate_tick(ctx)


def test_ingest_schedule_requests_the_session_and_skips_holidays():
    assert ingest_after_close.execution_timezone == "America/New_York"
    run = _tick(dt.date(2025, 11, 28)).run_requests  # early close: still ingested, after 13:00
    assert [r.partition_key for r in run] == ["2025-11-28"]
    holiday = _tick(dt.date(2025, 11, 27))
    assert not holiday.run_requests and "not an NYSE session" in holiday.skip_message


@dg.op
def broken():
    raise RuntimeError("vendor said no")


@dg.job(tags={"dagster/partition": "2025-11-26"})
def failing_job():
    broken()


def test_failure_sensor_posts_the_failed_run_to_the_webhook(httpserver, caplog):
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_json({"ok": True})
    with dg.instance_for_test() as instance:
        result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        ctx = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"alerts": AlertResource(webhook_url=httpserver.url_for("/hook"))},
        ).for_run_failure()
        alert_on_run_failure(ctx)
    body = httpserver.log[0][0].get_json()
    assert body["title"] == "IntradayJules run failed: failing_job [2025-11-26]"
    assert result.run_id in body["text"]
    assert "ALERT IntradayJules run failed" in caplog.text
    assert httpserver.url_for("/hook") not in caplog.text  # the webhook URL is a secret
