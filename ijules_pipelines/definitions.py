"""The one `Definitions` of the project: every domain folder under `defs/`, plus shared resources."""

from pathlib import Path

import dagster as dg

from ijules_pipelines.resources import MLflowResource, alert_resource, bar_source_resource, store_resource


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent),
        dg.Definitions(resources={"store": store_resource(), "bar_source": bar_source_resource(), "alerts": alert_resource(),
                                "mlflow": MLflowResource()}),
    )
