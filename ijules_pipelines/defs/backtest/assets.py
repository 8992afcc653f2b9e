"""The nightly backtest: does the champion still work on the latest data?"""

import dagster as dg

from ijules_core import calendar
from ijules_core.backtest import BacktestConfig, run_and_record
from ijules_core.config import Settings
from ijules_pipelines.defs.market_data.assets import market_bars
from ijules_pipelines.partitions import trading_days
from ijules_pipelines.resources import BarSourceResource, MLflowResource, StoreResource


class NightlyBacktestConfig(dg.Config):
    model: str = "champion"  # the MLflow alias, a baseline name (flat, buy_and_hold, random, moving_average) or a .zip
    lookback_days: int = 5
    window_size: int = 3


@dg.asset(group_name="backtest", partitions_def=trading_days, deps=[market_bars], kinds={"postgres"})
def nightly_backtest(
    context: dg.AssetExecutionContext,
    config: NightlyBacktestConfig,
    store: StoreResource,
    mlflow: MLflowResource,
    bar_source: BarSourceResource,
) -> dg.MaterializeResult:
    """Rolling-window backtest of the champion (or a baseline when there is none) up to the partition's day."""
    as_of = calendar.require_session(context.partition_key).date()
    tracker = mlflow.tracker() if config.model == "champion" else None
    settings = Settings.from_env()
    store.ensure_schema()
    with store.connect() as conn:
        result, folder = run_and_record(
            conn, as_of, bar_source.symbols, config.model, tracker,
            BacktestConfig(lookback_days=config.lookback_days, window_size=config.window_size),
            settings.reports_dir, context.run.run_id, cache_dir=settings.home / "models",
        )
    summary = result.summary()
    context.log.info(f"backtest {as_of} {result.policy}: {'PASS' if result.passed else 'FAIL'} "
                     f"({summary['windows_ok']}/{summary['windows']} windows)")
    return dg.MaterializeResult(
        metadata={
            "policy": result.policy,
            "passed": result.passed,
            "windows_ok": dg.MetadataValue.int(summary["windows_ok"]),
            "windows": dg.MetadataValue.int(summary["windows"]),
            **{f"mean_{k}": dg.MetadataValue.float(float(v)) for k, v in summary["mean"].items()
               if k in ("total_return", "sharpe", "max_drawdown", "fees")},
            "report_dir": dg.MetadataValue.path(str(folder)),
            "report": dg.MetadataValue.md((folder / "report.md").read_text()),
        }
    )
