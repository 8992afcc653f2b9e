import dagster as dg
import pandas as pd

from ijules_core.bars.synthetic import SyntheticSource
from ijules_pipelines.definitions import defs
from ijules_pipelines.defs.market_data.sensors import drop_folder_sensor
from ijules_pipelines.resources import BarSourceResource


def _tick(folder, cursor=None):
    ctx = dg.build_sensor_context(
        cursor=cursor, repository_def=defs().get_repository_def(),
        resources={"bar_source": BarSourceResource(drop_folder=str(folder))},
    )
    return drop_folder_sensor(ctx)


def test_new_file_requests_its_days_once_and_bad_files_are_skipped(tmp_path):
    days = [pd.Timestamp("2025-11-25").date(), pd.Timestamp("2025-11-26").date()]
    bars = pd.concat([SyntheticSource().fetch(["NVDA"], d) for d in days])
    bars.to_csv(tmp_path / "NVDA_week.csv", index=False)
    (tmp_path / "MSFT_broken.csv").write_text("what,is,this\n1,2,3\n")
    first = _tick(tmp_path)
    assert sorted(r.partition_key for r in first.run_requests) == ["2025-11-25", "2025-11-26"]
    assert first.run_requests[0].run_config["resources"]["bar_source"]["config"]["source"] == "files"
    again = _tick(tmp_path, first.cursor)
    assert not again.run_requests  # unchanged files are not ingested twice


def test_no_drop_folder_skips():
    ctx = dg.build_sensor_context(resources={"bar_source": BarSourceResource()})
    assert "IJULES_DROP_FOLDER" in drop_folder_sensor(ctx).skip_message
