import dagster as dg

ingest_market_data = dg.define_asset_job(
    "ingest_market_data",
    selection=dg.AssetSelection.groups("market_data") - dg.AssetSelection.assets("eod_validation"),
    description="Fetch, check and store the 1-minute bars of the selected trading days.",
)

eod_validation_job = dg.define_asset_job(
    "eod_validation_job",
    selection=dg.AssetSelection.assets("eod_validation"),
    description="Validate the day's data after ingestion: completeness, QC pass rate, freshness, health.",
)
