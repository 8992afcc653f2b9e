import dagster as dg
import pytest

from ijules_core.store import connect
from ijules_pipelines.defs.market_data.assets import market_bars, qc_report, raw_bars
from ijules_pipelines.defs.market_data.checks import bars_qc
from ijules_pipelines.definitions import defs
from ijules_pipelines.partitions import trading_days
from ijules_pipelines.resources import BarSourceResource, StoreResource


def _materialize(db_url, partition_key=None, tags=None, faults=None):
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [raw_bars, market_bars, bars_qc, qc_report],
            partition_key=partition_key,
            tags=tags,
            instance=instance,
            resources={"store": StoreResource(database_url=db_url), "bar_source": BarSourceResource(faults=faults or {})},
            raise_on_error=False,
        )


def _bars(db_url):
    with connect(db_url) as conn:
        return conn.execute("SELECT symbol, ts, close FROM market_data.bars ORDER BY symbol, ts").fetchall()


def test_definitions_load():
    graph = defs().resolve_asset_graph()
    assert {"raw_bars", "market_bars"} <= {k.to_user_string() for k in graph.get_all_asset_keys()}


def test_partitions_skip_weekends_and_holidays():
    keys = set(trading_days.get_partition_keys())
    assert "2025-11-28" in keys  # day after Thanksgiving: an early close, still a session
    assert not {"2025-11-27", "2025-12-25", "2026-01-19", "2025-11-29"} & keys


@pytest.mark.parametrize("day, expected", [("2025-11-26", 780), ("2025-11-28", 420)])
def test_market_bars_partition_lands_in_postgres(db_url, day, expected):
    result = _materialize(db_url, partition_key=day)
    assert result.success
    meta = result.asset_materializations_for_node("market_bars")[0].metadata
    assert meta["rows"].value == expected
    assert meta["first_bar"].value.startswith(f"{day} 14:30")
    with connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM market_data.bars").fetchone()[0] == expected


def test_range_backfill_is_one_run_and_rerun_is_idempotent(db_url):
    tags = {"dagster/asset_partition_range_start": "2025-11-24", "dagster/asset_partition_range_end": "2025-11-28"}
    for _ in range(2):
        result = _materialize(db_url, tags=tags)
        assert result.success
    with connect(db_url) as conn:
        per_day = conn.execute(
            "SELECT (ts AT TIME ZONE 'America/New_York')::date, count(*) FROM market_data.bars GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert [n for _, n in per_day] == [780, 780, 780, 420]  # Thanksgiving absent, Friday half day


def test_qc_block_leaves_the_table_as_it_was_and_says_why(db_url):
    assert _materialize(db_url, partition_key="2025-11-26").success
    before = _bars(db_url)
    result = _materialize(db_url, partition_key="2025-11-26", faults={"NVDA@2025-11-26": ["missing:60"]})
    assert not result.success
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["blocked_partitions"].value == "NVDA 2025-11-26"
    assert "completeness" in check.metadata["report"].value
    assert not result.asset_materializations_for_node("market_bars")
    assert _bars(db_url) == before
    with connect(db_url) as conn:
        latest = conn.execute(
            "SELECT symbol, outcome, metrics->'failures'->0->>'rule' FROM market_data.qc_reports "
            "WHERE partition = '2025-11-26' ORDER BY id DESC LIMIT 3"
        ).fetchall()
    assert ("NVDA", "BLOCK", "completeness") in latest and ("*", "BLOCK", "completeness") in latest


def test_qc_warn_writes_and_flags(db_url):
    result = _materialize(db_url, partition_key="2025-11-26", faults={"MSFT@2025-11-26": ["spike"]})
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["rule_counts"].value.get("spike", 0) >= 1
    assert len(_bars(db_url)) == 780
    report = result.asset_materializations_for_node("qc_report")[0].metadata
    assert report["days_warn"].value == 1 and "data:image/png;base64," in report["report"].value


def test_missing_api_key_is_a_clear_error():
    with pytest.raises(ValueError, match="POLYGON_API_KEY"):
        BarSourceResource(source="polygon").build()
