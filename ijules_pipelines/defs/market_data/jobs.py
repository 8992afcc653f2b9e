import dagster as dg

ingest_market_data = dg.define_asset_job(
    "ingest_market_data",
    selection=dg.AssetSelection.groups("market_data"),
    description="Fetch, check and store the 1-minute bars of the selected trading days.",
)
