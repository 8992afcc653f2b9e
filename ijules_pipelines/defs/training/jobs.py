import dagster as dg

training_job = dg.define_asset_job(
    "training_job",
    selection=dg.AssetSelection.groups("training"),
    description="Build the data set, train, evaluate out of sample and, if the gates pass, move the champion alias.",
)
