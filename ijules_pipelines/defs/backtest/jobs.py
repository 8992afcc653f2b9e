import dagster as dg

nightly_backtest_job = dg.define_asset_job(
    "nightly_backtest_job",
    selection=dg.AssetSelection.assets("nightly_backtest"),
    description="Rolling-window backtest of the champion up to a trading day.",
)
