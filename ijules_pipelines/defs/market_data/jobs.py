import dagster as dg

from ijules_pipelines.partitions import trading_days

ingest_market_data = dg.define_asset_job(
    "ingest_market_data",
    selection=dg.AssetSelection.groups("market_data"),
    partitions_def=trading_days,
    description="Fetch, check and store the 1-minute bars of the selected trading days.",
)
