import json

import dagster as dg

from ijules_pipelines.defs.market_data.assets import eod_validation, market_bars, qc_report, raw_bars
from ijules_pipelines.defs.market_data.checks import bars_qc
from ijules_pipelines.resources import BarSourceResource, StoreResource

DAY = "2025-11-26"


def _run(db_url, assets, faults=None):
    with dg.instance_for_test() as instance:
        return dg.materialize(
            assets, partition_key=DAY, instance=instance, raise_on_error=False,
            resources={"store": StoreResource(database_url=db_url), "bar_source": BarSourceResource(faults=faults or {})},
        )


def test_eod_after_a_gappy_day_recommends_reingesting_it(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("IJULES_REPORTS_DIR", str(tmp_path))
    ingest = [raw_bars, bars_qc, market_bars, qc_report]
    assert _run(db_url, ingest, faults={"MSFT@" + DAY: ["missing:12"]}).success  # 3 %: passes QC in ci
    result = _run(db_url, [eod_validation])
    assert result.success
    meta = result.asset_materializations_for_node("eod_validation")[0].metadata
    assert meta["outcome"].value == "WARN"
    report = json.loads((tmp_path / "eod" / f"{DAY}.json").read_text())
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["completeness"]["status"] == "WARN"
    assert checks["freshness"]["status"] == "PASS"
    assert f"re-ingest {DAY} MSFT: 12 minutes missing" in report["recommendations"]
    assert "re-ingest" in meta["report"].value


def test_eod_without_data_fails_and_says_ingest(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("IJULES_REPORTS_DIR", str(tmp_path))
    result = _run(db_url, [eod_validation])
    assert result.success  # the asset reports the failure; it does not crash
    report = json.loads((tmp_path / "eod" / f"{DAY}.json").read_text())
    assert report["outcome"] == "FAIL"
    assert {c["name"]: c["status"] for c in report["checks"]}["freshness"] == "FAIL"
    assert any(r.startswith(f"ingest {DAY}") for r in report["recommendations"])
