import datetime as dt
import json
from zoneinfo import ZoneInfo

import dagster as dg

from ijules_core.store import connect, mlflow_url
from ijules_pipelines.definitions import defs
from ijules_pipelines.defs.backtest.assets import nightly_backtest
from ijules_pipelines.defs.backtest.schedules import nightly_backtest_schedule
from ijules_pipelines.defs.market_data.assets import market_bars, raw_bars
from ijules_pipelines.resources import BarSourceResource, MLflowResource, StoreResource

DAYS = ("2025-11-19", "2025-11-26")  # 6 sessions; the backtest of 11-26 looks back 5


def _ingest(db_url, faults=None):
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            [raw_bars, market_bars], instance=instance,
            tags={"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[1]},
            resources={"store": StoreResource(database_url=db_url), "bar_source": BarSourceResource(faults=faults or {})},
        ).success


def _backtest(db_url, tmp_path, model):
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [nightly_backtest], instance=instance, partition_key=DAYS[1],
            run_config={"ops": {"nightly_backtest": {"config": {"model": model}}}},
            resources={"store": StoreResource(database_url=db_url), "bar_source": BarSourceResource(),
                       "mlflow": MLflowResource(tracking_uri=mlflow_url(db_url), artifact_root=str(tmp_path / "mlruns"))},
        )


def test_nightly_backtest_without_champion_falls_back_and_reports(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("IJULES_REPORTS_DIR", str(tmp_path / "reports"))
    _ingest(db_url)
    result = _backtest(db_url, tmp_path, "champion")
    meta = result.asset_materializations_for_node("nightly_backtest")[0].metadata
    assert meta["policy"].value == "moving_average"  # no champion registered: the documented fallback
    assert meta["windows"].value == 3 and meta["windows_ok"].value == 3
    assert "data:image/png;base64," in meta["report"].value
    folder = tmp_path / "reports" / "backtest" / DAYS[1]
    assert {p.name for p in folder.iterdir()} == {"report.md", "equity.png", "results.json"}
    doc = json.loads((folder / "results.json").read_text())
    assert doc["policy"] == "moving_average" and len(doc["windows"]) == 3
    with connect(db_url) as conn:
        (status,) = conn.execute("SELECT status FROM backtest.runs").fetchone()
        assert conn.execute("SELECT count(*) FROM backtest.windows WHERE ok").fetchone()[0] == 3
    assert status == ("PASS" if meta["passed"].value else "FAIL")


def test_a_qc_blocked_day_fails_its_windows_not_the_run(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("IJULES_REPORTS_DIR", str(tmp_path / "reports"))
    _ingest(db_url)
    with connect(db_url) as conn:
        conn.execute("INSERT INTO market_data.qc_reports (partition, symbol, outcome, metrics) "
                     "VALUES ('2025-11-24', '*', 'BLOCK', '{}')")
        conn.commit()
    result = _backtest(db_url, tmp_path, "flat")
    assert result.success
    with connect(db_url) as conn:
        rows = conn.execute("SELECT idx, ok, reason FROM backtest.windows ORDER BY idx").fetchall()
    assert len(rows) == 3  # every window of 11-20..11-26 contains the blocked day
    assert all(not ok and "QC blocked 2025-11-24" in reason for _, ok, reason in rows)


def test_schedule_runs_at_one_am_for_the_session_that_ended():
    ctx = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2025, 11, 29, 1, 0, tzinfo=ZoneInfo("America/New_York")),  # Saturday
        repository_def=defs().get_repository_def(),
    )
    (request,) = nightly_backtest_schedule.evaluate_tick(ctx).run_requests
    assert request.partition_key == "2025-11-28"
    assert nightly_backtest_schedule.cron_schedule == "0 1 * * 2-6"
