"""Market bars: vendor → staging table → (QC) → `market_data.bars`, one trading day per partition.

Vendor data is staged in PostgreSQL rather than pickled, so a single-run backfill over many
days works and the blocking QC check reads exactly what would be promoted.
"""

import json

import dagster as dg
import pandas as pd

from ijules_core import calendar
from ijules_core.config import Settings
from ijules_core.eod import EODContext, save_eod_report, validate_day
from ijules_core.qc import THRESHOLDS
from ijules_core.charts import completeness_chart, markdown_image
from ijules_core.store.bars import STAGING, promote, write_bars
from ijules_pipelines.partitions import trading_days
from ijules_pipelines.resources import BarSourceResource, StoreResource

single_run = dg.BackfillPolicy.single_run()  # a backfill of a range is one run over all its days


def partition_days(context) -> list:
    return [calendar.require_session(k).date() for k in context.partition_keys]


def _time_range(df: pd.DataFrame) -> dict:
    if df.empty:
        return {"first_bar": "-", "last_bar": "-"}
    return {"first_bar": str(df["ts"].min()), "last_bar": str(df["ts"].max())}


@dg.asset(group_name="market_data", partitions_def=trading_days, backfill_policy=single_run, kinds={"postgres"})
def raw_bars(context: dg.AssetExecutionContext, bar_source: BarSourceResource, store: StoreResource) -> dg.MaterializeResult:
    """The partitions' 1-minute bars as the vendor returned them, normalised, in `market_data.bars_staging`."""
    source = bar_source.build()
    days = partition_days(context)
    df = pd.concat([source.fetch(bar_source.symbols, d) for d in days], ignore_index=True)
    store.ensure_schema()
    with store.connect() as conn:
        rows = write_bars(conn, df, source.name, table=STAGING,
                          slices=[(s, d) for s in bar_source.symbols for d in days])
    return dg.MaterializeResult(
        metadata={"rows": rows, "source": source.name, "symbols": ", ".join(bar_source.symbols), **_time_range(df)}
    )


@dg.asset(
    group_name="market_data", partitions_def=trading_days, backfill_policy=single_run, kinds={"postgres"}, deps=[raw_bars]
)
def market_bars(context: dg.AssetExecutionContext, store: StoreResource, bar_source: BarSourceResource) -> dg.MaterializeResult:
    """`market_data.bars`: each (symbol, day) slice of the partitions replaced by its staged rows, in one transaction."""
    days = partition_days(context)
    mode = store.ensure_schema()
    with store.connect() as conn:
        rows = promote(conn, [(s, d) for s in bar_source.symbols for d in days])
        first, last = conn.execute(
            "SELECT min(ts), max(ts) FROM market_data.bars WHERE symbol = ANY(%s) AND ts >= %s AND ts < %s",
            (bar_source.symbols, calendar.session_open(days[0]), calendar.session_close(days[-1]) + pd.Timedelta(hours=5)),
        ).fetchone()
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "sessions": dg.MetadataValue.int(len(days)),
            "first_bar": dg.MetadataValue.text(str(first) if first else "-"),
            "last_bar": dg.MetadataValue.text(str(last) if last else "-"),
            "storage_mode": dg.MetadataValue.text(mode),
            "table": dg.MetadataValue.text("market_data.bars"),
        }
    )


@dg.asset(group_name="market_data", partitions_def=trading_days, backfill_policy=single_run, deps=[market_bars])
def qc_report(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    """The QC verdicts of the partitions (from `market_data.qc_reports`) with a completeness chart."""
    days = partition_days(context)
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (partition, symbol) partition, symbol, outcome, metrics FROM market_data.qc_reports "
            "WHERE partition = ANY(%s) ORDER BY partition, symbol, created_at DESC, id DESC",
            (days,),
        ).fetchall()
    per_symbol = [r for r in rows if r[1] != "*"]
    verdicts = {str(r[0]): r[2] for r in rows if r[1] == "*"}
    symbols = sorted({r[1] for r in per_symbol})
    labels = [str(d) for d in days]
    share = {(str(r[0]), r[1]): 1 - r[3]["missing_ratio"] for r in per_symbol}
    threshold = next((r[3]["thresholds"]["max_missing_ratio"] for r in rows if r[1] == "*"), 0.05)
    chart = completeness_chart(labels, {s: [share.get((d, s), 0.0) for d in labels] for s in symbols}, threshold)
    table = ["| day | outcome | " + " | ".join(f"{s} bars" for s in symbols) + " |",
             "|---|---|" + "---:|" * len(symbols)]
    bars = {(str(r[0]), r[1]): f"{r[3]['bars']}/{r[3]['expected']}" for r in per_symbol}
    table += [f"| {d} | {verdicts.get(d, 'not checked')} | " + " | ".join(bars.get((d, s), "-") for s in symbols) + " |"
              for d in labels]
    counts = {o: sum(v == o for v in verdicts.values()) for o in ("CONTINUE", "WARN", "BLOCK")}
    return dg.MaterializeResult(
        metadata={
            **{f"days_{o.lower()}": dg.MetadataValue.int(n) for o, n in counts.items()},
            "report": dg.MetadataValue.md("\n".join(["### QC by day", "", markdown_image(chart, "completeness"), "", *table])),
        }
    )


@dg.asset(group_name="market_data", partitions_def=trading_days, deps=[market_bars, qc_report], kinds={"postgres"})
def eod_validation(context: dg.AssetExecutionContext, store: StoreResource, bar_source: BarSourceResource) -> dg.MaterializeResult:
    """End-of-day health of the day's data: completeness, QC pass rate, freshness, table and disk; with recommendations."""
    settings = Settings.from_env()
    ctx = EODContext(calendar.require_session(context.partition_key).date(), bar_source.symbols,
                     max_missing_ratio=THRESHOLDS[settings.environment].max_missing_ratio, data_dir=settings.home.parent)
    with store.connect() as conn:
        report = validate_day(conn, ctx)
        save_eod_report(conn, report)
    path = settings.reports_dir / "eod" / f"{ctx.day}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return dg.MaterializeResult(
        metadata={
            "outcome": report.outcome.value,
            "recommendations": dg.MetadataValue.int(len(report.recommendations)),
            "report_file": dg.MetadataValue.path(str(path)),
            "report": dg.MetadataValue.md(report.to_markdown()),
        }
    )
