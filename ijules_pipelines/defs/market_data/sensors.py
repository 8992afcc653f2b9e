"""Ingest what lands in the drop folder: one run per trading day a new or changed file covers."""

import json
from pathlib import Path

import dagster as dg

from ijules_core.bars.errors import SourceError
from ijules_core.bars.files import SUFFIXES, partitions
from ijules_pipelines.defs.market_data.jobs import ingest_market_data
from ijules_pipelines.partitions import trading_days
from ijules_pipelines.resources import FILE_LAYOUTS, BarSourceResource


@dg.sensor(job=ingest_market_data, minimum_interval_seconds=60,
           description="Watches IJULES_DROP_FOLDER; a new or changed CSV/Parquet file launches ingestion of its days.")
def drop_folder_sensor(context: dg.SensorEvaluationContext, bar_source: BarSourceResource):
    if not bar_source.drop_folder:
        return dg.SkipReason("no drop folder configured (set IJULES_DROP_FOLDER)")
    folder = Path(bar_source.drop_folder)
    seen: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
    layout = FILE_LAYOUTS[bar_source.file_layout]
    known = set(trading_days.get_partition_keys())
    requests, skipped = [], []
    for path in sorted(p for p in folder.glob("*") if p.suffix in SUFFIXES):
        mtime = path.stat().st_mtime
        if seen.get(path.name) == mtime:
            continue
        seen[path.name] = mtime
        try:
            days = sorted({str(day) for _, day in partitions(path, layout, extended_hours=bar_source.extended_hours)})
        except SourceError as exc:
            context.log.error(f"drop folder: skipping {path.name}: {exc}")
            continue
        skipped += [d for d in days if d not in known]
        config = {"resources": {"bar_source": {"config": {"source": "files"}}}}
        requests += [dg.RunRequest(run_key=f"{path.name}:{mtime}:{d}", partition_key=d, run_config=config,
                                   tags={"ijules/file": path.name}) for d in days if d in known]
    if skipped:
        context.log.warning(f"drop folder: days outside the partitions ignored: {', '.join(skipped[:5])}")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen))
