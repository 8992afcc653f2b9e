"""The end-to-end demo: what `ijules demo` (and the README's first command) runs.

Everything goes through the same Dagster instance the UI reads (dagster.yaml, PostgreSQL
storage), so each step appears there as a run with its metadata.
"""

from __future__ import annotations

import logging

import dagster as dg
import pandas as pd

from ijules_core import calendar
from ijules_pipelines.instance import prepare_environment

log = logging.getLogger(__name__)


def last_completed_session(now: pd.Timestamp | None = None) -> str:
    now = now or pd.Timestamp.now(tz=calendar.TZ)
    day = now.normalize().tz_localize(None)
    if calendar.is_session(day) and now >= calendar.session_close(day).tz_convert(calendar.TZ):
        return str(day.date())
    return str(calendar.previous_sessions(day - pd.Timedelta(days=1), 1)[0])


def run_demo(sessions: int = 20, end: str | None = None) -> None:
    url = prepare_environment()
    from ijules_pipelines.definitions import defs

    definitions = defs()
    days = calendar.previous_sessions(end or last_completed_session(), sessions)
    first, last = str(days[0]), str(days[-1])
    log.info("database %s", url.split("@")[-1])
    with dg.DagsterInstance.get() as instance:
        log.info("ingesting %d sessions %s..%s as one run", len(days), first, last)
        result = definitions.resolve_job_def("ingest_market_data").execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
            raise_on_error=False,
        )
        log.info("ingest run %s: %s", result.run_id, "success" if result.success else "FAILED")
        if not result.success:
            raise SystemExit(1)
