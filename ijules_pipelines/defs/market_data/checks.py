"""The QC gate: a blocking check on the staged bars, so a BLOCKed batch never reaches `market_bars`."""

import dagster as dg

from ijules_core.config import Settings
from ijules_core.qc import Outcome, check_bars
from ijules_core.store.bars import STAGING, read_bars
from ijules_core.store.reports import save_qc_report
from ijules_pipelines.defs.market_data.assets import partition_days, raw_bars
from ijules_pipelines.resources import BarSourceResource, StoreResource

SEVERITY = {Outcome.BLOCK: dg.AssetCheckSeverity.ERROR, Outcome.WARN: dg.AssetCheckSeverity.WARN}


@dg.asset_check(asset=raw_bars, blocking=True, description="pandera schema, completeness vs the NYSE calendar, spikes, stale prices, alignment")
def bars_qc(context: dg.AssetCheckExecutionContext, store: StoreResource, bar_source: BarSourceResource) -> dg.AssetCheckResult:
    days = partition_days(context)
    with store.connect() as conn:
        staged = read_bars(conn, bar_source.symbols, days[0], days[-1], table=STAGING)
        report = check_bars(staged, symbols=bar_source.symbols, days=days, environment=Settings.from_env().environment)
        save_qc_report(conn, report, days)
    blocked = [f"{p.symbol} {p.day}" for p in report.partitions if p.outcome is Outcome.BLOCK]
    return dg.AssetCheckResult(
        passed=report.outcome is Outcome.CONTINUE,
        severity=SEVERITY.get(report.outcome, dg.AssetCheckSeverity.WARN),
        description=f"QC {report.outcome.value}" + (f": blocked {', '.join(blocked)}" if blocked else ""),
        metadata={
            "outcome": report.outcome.value,
            "rows": report.rows,
            "rule_counts": dg.MetadataValue.json(report.rule_counts()),
            "blocked_partitions": ", ".join(blocked) or "none",
            "report": dg.MetadataValue.md(report.to_markdown()),
        },
    )
