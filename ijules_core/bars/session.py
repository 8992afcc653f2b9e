"""From whatever a source delivers to bars of one regular session: shared by every source.

Providers disagree on time zones and on whether a bar is stamped at the start or the end
of its minute; `to_bars` settles both once, so each source only has to say which
convention it speaks. `regular_session` keeps 09:30–16:00 New York (13:00 on early
closes), asking the NYSE calendar; extended hours stay only when asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from ijules_core import calendar
from ijules_core.bars import conform
from ijules_core.bars.errors import MalformedData

Label = Literal["start", "end"]
RAW_COLUMNS = ["ts", "open", "high", "low", "close", "volume"]
ONE_MINUTE = pd.Timedelta(minutes=1)


def to_bars(
    raw: pd.DataFrame,
    *,
    symbol: str | None = None,
    tz: str = calendar.TZ,
    label: Label = "start",
    ts_format: str | None = None,
    ts_unit: str | None = None,
    where: Mapping[str, Any],
) -> pd.DataFrame:
    """Bars in the schema from `raw` (RAW_COLUMNS, optional vwap/trades/symbol).

    Naive stamps are read in `tz`, numeric ones as UTC epochs in `ts_unit`; aware ones keep
    their offset. End-labelled stamps move back one minute. Anything unreadable is a `MalformedData` naming `where`.
    """
    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        raise MalformedData(f"missing columns {missing}; found {list(raw.columns)}", **where)
    if label not in ("start", "end"):
        raise ValueError(f"label must be 'start' or 'end', got {label!r}")
    try:
        ts = raw["ts"]
        if ts_unit is not None:
            ts = pd.to_datetime(ts, unit=ts_unit, utc=True)
        elif not pd.api.types.is_datetime64_any_dtype(ts):
            ts = pd.to_datetime(ts, format=ts_format)
        if ts.dt.tz is None:
            ts = ts.dt.tz_localize(tz)
        bars = raw.assign(ts=ts - ONE_MINUTE if label == "end" else ts)
        if "symbol" not in bars.columns:
            bars["symbol"] = symbol
        for col in ("vwap", "trades"):
            if col not in bars.columns:
                bars[col] = np.nan
        return conform(bars)
    except (ValueError, TypeError, OverflowError) as exc:
        raise MalformedData(f"unreadable bars: {str(exc).splitlines()[0]}", **where) from None


def session_frame(ts: pd.Series) -> pd.DataFrame:
    """For each UTC bar start: its New York `day` and that day's session `open`/`close` (NaT if none)."""
    local_day = ts.dt.tz_convert(calendar.TZ).dt.tz_localize(None).dt.normalize()
    codes, days = pd.factorize(local_day)  # a few hundred distinct days even for 1M bars; NaT -> -1
    schedule = calendar.nyse().schedule.reindex(days)
    return pd.DataFrame(
        {
            "day": days.array.take(codes, allow_fill=True),
            "open": schedule["open"].array.take(codes, allow_fill=True),
            "close": schedule["close"].array.take(codes, allow_fill=True),
        },
        index=ts.index,
    )


def in_session(ts: pd.Series, *, extended_hours: bool = False) -> pd.Series:
    """Whether each bar starts inside its day's regular session (any time of a session day if extended)."""
    return _keep(ts, session_frame(ts), extended_hours)


def _keep(ts: pd.Series, s: pd.DataFrame, extended_hours: bool) -> pd.Series:
    return s["open"].notna() if extended_hours else (ts >= s["open"]) & (ts < s["close"])


def regular_session(
    bars: pd.DataFrame, day: dt.date | None = None, *, extended_hours: bool = False
) -> pd.DataFrame:
    """The bars that belong to a session (only `day`'s if given), regular hours unless `extended_hours`."""
    s = session_frame(bars["ts"])
    keep = _keep(bars["ts"], s, extended_hours)
    if day is not None:
        keep &= s["day"] == pd.Timestamp(day)
    return bars[keep].reset_index(drop=True)
