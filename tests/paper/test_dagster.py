"""The service in Dagster: runless events on the trading tables, the heartbeat sensor, EOD checks, the job."""

import datetime as dt
import json

import dagster as dg
import pandas as pd
from paper_data import DAY

from ijules_core.eod import CHECKS, EODContext, Status, flat_at_close, no_limit_breach
from ijules_core.paper.service import Service, ServiceOptions
from ijules_core.paper.trader import PaperConfig
from ijules_core.store.db import connect
from ijules_pipelines.defs.trading.assets import dagster_reporter
from ijules_pipelines.defs.trading.jobs import paper_session_job
from ijules_pipelines.defs.trading import sensors
from ijules_pipelines.defs.trading.sensors import paper_heartbeat_sensor
from ijules_pipelines.resources import AlertResource, StoreResource

OPTIONS = ServiceOptions(paper=PaperConfig(account="dg"), replay=DAY, speed=0, model="moving_average",
                         metrics_port=None)


def test_a_session_reports_the_trading_tables_to_dagster(market_url):
    with dg.instance_for_test() as instance:
        service = Service(OPTIONS, market_url, dagster_reporter(instance))
        report = service.run()[0]
        fills = instance.get_latest_materialization_event(dg.AssetKey("trading_fills")).asset_materialization
        sessions = instance.get_latest_materialization_event(dg.AssetKey("trading_sessions")).asset_materialization
        opened = instance.fetch_observations(dg.AssetKey("trading_sessions"), limit=5).records
    assert fills.metadata["fills"].value == report["fills"] > 0
    assert fills.metadata["session_id"].value == f"dg:{DAY}"
    assert sessions.metadata["flat"].value is True and sessions.metadata["report"].value["decisions"] == 390
    assert len(opened) == 1 and opened[0].asset_observation.metadata["event"].value == "opened"


def test_eod_checks_pass_a_clean_session_and_catch_breaches(market_url):
    Service(OPTIONS, market_url).run()
    ctx = EODContext(DAY, ["NVDA", "MSFT"])
    assert flat_at_close in CHECKS and no_limit_breach in CHECKS
    with connect(market_url) as conn:
        assert flat_at_close(conn, ctx).status is Status.PASS
        assert no_limit_breach(conn, ctx).status is Status.PASS
        assert flat_at_close(conn, EODContext(dt.date(2025, 11, 25), ["NVDA"])).detail == "no paper-trading session"
        last = conn.execute("SELECT max(ts) FROM trading.positions").fetchone()[0]
        conn.execute("UPDATE trading.positions SET held = '{\"NVDA\": 1, \"MSFT\": 0}', "
                     "working = '{\"NVDA\": 3, \"MSFT\": 0}' WHERE ts = %s", (last,))
        not_flat, breach = flat_at_close(conn, ctx), no_limit_breach(conn, ctx)
    assert not_flat.status is Status.FAIL and "still holds {'NVDA': 1}" in not_flat.recommendations[0]
    assert breach.status is Status.FAIL and "max_notional" in breach.detail


def test_heartbeat_sensor_alerts_once_per_silence_during_market_hours(market_url, caplog, monkeypatch):
    trading_hours = pd.Timestamp(f"{DAY} 15:00", tz="UTC")
    with connect(market_url) as conn:
        conn.execute("INSERT INTO trading.heartbeats (account, pid, status, broker_connected, at) VALUES "
                     "('quiet', 1, 'trading', true, %s), ('gone', 2, 'stopped', true, %s), "
                     "('fine', 3, 'trading', true, %s)",
                     (trading_hours - pd.Timedelta(minutes=10), trading_hours - pd.Timedelta(hours=1),
                      trading_hours - pd.Timedelta(seconds=5)))
        conn.commit()
    resources = {"store": StoreResource(database_url=market_url), "alerts": AlertResource()}

    def tick(at, cursor=None):
        monkeypatch.setattr(sensors, "now", lambda: at)
        with dg.instance_for_test() as instance:
            return paper_heartbeat_sensor(dg.build_sensor_context(instance=instance, resources=resources,
                                                                  cursor=cursor))

    def alerts():
        return [r.getMessage() for r in caplog.records if "paper trading silent" in r.getMessage()]

    first = tick(trading_hours)
    assert len(alerts()) == 1 and "silent: quiet" in alerts()[0] and "silent for 600 s" in alerts()[0]
    second = tick(trading_hours + pd.Timedelta(minutes=1), first.cursor)
    assert second.skip_reason.skip_message == "already alerted" and len(alerts()) == 1
    assert tick(pd.Timestamp(f"{DAY} 22:00", tz="UTC")).skip_reason.skip_message == "every service beating"
    assert tick(trading_hours, json.dumps({})).cursor == first.cursor  # a new outage alerts again


def test_the_session_job_runs_one_replayed_session(market_url):
    with dg.instance_for_test() as instance:
        result = paper_session_job.execute_in_process(
            instance=instance, resources={"store": StoreResource(database_url=market_url)},
            run_config={"ops": {"paper_session": {"config": {"replay": str(DAY), "speed": 0, "model": "flat",
                                                            "account": "job"}}}})
        assert result.success and result.output_for_node("paper_session")["decisions"] == 390
        assert instance.get_latest_materialization_event(dg.AssetKey("trading_orders")) is not None
    assert paper_session_job.tags["dagster/max_runtime"] == str(8 * 3600)
