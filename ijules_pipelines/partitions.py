"""Trading-day partitions: weekdays in New York with NYSE holidays excluded."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg
import pandas as pd

from ijules_core import calendar

START = os.environ.get("IJULES_PARTITIONS_START", "2025-01-02")


def _holidays(start: str) -> list[dt.datetime]:
    """Weekdays that are not NYSE sessions, from `start` to the calendar's end, at New York midnight."""
    cal = calendar.nyse()
    weekdays = pd.bdate_range(start, cal.last_session)
    return [d.tz_localize(calendar.TZ).to_pydatetime() for d in weekdays if not cal.is_session(d)]


trading_days = dg.TimeWindowPartitionsDefinition(
    start=START,
    fmt="%Y-%m-%d",
    cron_schedule="0 0 * * 1-5",
    timezone=calendar.TZ,
    end_offset=1,  # today's session is a partition as soon as the day starts; ingestion runs after the close
    exclusions=_holidays(START),
)
