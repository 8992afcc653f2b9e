"""NYSE sessions, early closes and bar grids, from `exchange_calendars`.

Bars are labelled by the START of their minute, in UTC. Everything that needs to know
whether a day trades, when it opens or closes, or which minutes it has, asks here —
there is no hand-written holiday list anywhere else in the project.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

EXCHANGE = "XNYS"
TZ = "America/New_York"
FULL_DAY_MINUTES = 390
EARLY_CLOSE_MINUTES = 210

DateLike = str | dt.date | pd.Timestamp


@lru_cache(maxsize=1)
def nyse() -> xcals.ExchangeCalendar:
    """The NYSE calendar, built once per process (construction takes ~0.1 s)."""
    return xcals.get_calendar(EXCHANGE, start="2000-01-03")


def _day(day: DateLike) -> pd.Timestamp:
    ts = pd.Timestamp(day)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(TZ).tz_localize(None)
    return ts.normalize()


def is_session(day: DateLike) -> bool:
    return bool(nyse().is_session(_day(day)))


def require_session(day: DateLike) -> pd.Timestamp:
    """The day as a session label, or a ValueError that says why it is not one."""
    d = _day(day)
    if not nyse().is_session(d):
        raise ValueError(
            f"{d.date()} is not an NYSE trading session (weekend or holiday): "
            "pick a trading day, e.g. from `ijules_core.calendar.sessions()`"
        )
    return d


def sessions(start: DateLike, end: DateLike) -> list[dt.date]:
    """Trading sessions from start to end, both inclusive."""
    return [s.date() for s in nyse().sessions_in_range(_day(start), _day(end))]


def previous_sessions(end: DateLike, count: int) -> list[dt.date]:
    """The `count` sessions ending at `end` (inclusive when `end` is a session)."""
    cal = nyse()
    d = _day(end)
    last = d if cal.is_session(d) else cal.date_to_session(d, direction="previous")
    return [s.date() for s in cal.sessions_window(last, -count)]


def session_open(day: DateLike) -> pd.Timestamp:
    return nyse().session_open(require_session(day))


def session_close(day: DateLike) -> pd.Timestamp:
    return nyse().session_close(require_session(day))


def session_minutes(day: DateLike) -> pd.DatetimeIndex:
    """Start-labelled UTC minutes of the regular session: 390 on full days, 210 on early closes."""
    return nyse().session_minutes(require_session(day))


def expected_bars(day: DateLike) -> int:
    return len(session_minutes(day))


def session_of(ts: pd.Timestamp) -> dt.date:
    """The New York calendar date a timestamp belongs to."""
    return pd.Timestamp(ts).tz_convert(TZ).date()
