"""Alpha Vantage TIME_SERIES_INTRADAY at 1 minute, one month per request.

Alpha Vantage's historical intraday bars are stamped at the END of the minute, newest first,
in the zone named by "6. Time Zone"; `to_bars` turns them into start-labelled ascending UTC
(set `label="start"` for a feed that stamps starts). Throttling and bad requests come back
as HTTP 200 with a "Note", "Information" or "Error Message" body: those raise, they are
never read as data, and are not retried (the daily quota does not clear by waiting).

The free tier allows 5 calls a minute and 25 a day: a client-side limiter keeps us under
it, waiting up to `max_wait_s` for a slot, and a whole month is cached per symbol so a
backfill of N days costs one call per symbol and month, not N.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import requests
from pyrate_limiter import Duration, Limiter, Rate

from ijules_core import calendar
from ijules_core.bars import conform, empty_bars
from ijules_core.bars.errors import MalformedData, RateLimited, RequestRejected, Retry, get_json, redact
from ijules_core.bars.session import Label, regular_session, to_bars

SERIES_KEY = "Time Series (1min)"
FIELDS = {"1. open": "open", "2. high": "high", "3. low": "low", "4. close": "close", "5. volume": "volume"}
REFUSALS = {"Error Message": RequestRejected, "Note": RateLimited, "Information": RateLimited}


@dataclass(eq=False)
class AlphaVantageSource:
    api_key: str = field(repr=False)
    base_url: str = "https://www.alphavantage.co"
    extended_hours: bool = False
    adjusted: bool = True
    label: Label = "end"
    calls_per_minute: int = 5
    calls_per_day: int = 25
    max_wait_s: float = 65.0
    timeout_s: float = 30.0
    retry: Retry = Retry()
    name: str = "alpha_vantage"
    http: requests.Session = field(default_factory=requests.Session, repr=False)
    _limiter: Limiter = field(init=False, repr=False)
    _months: dict[tuple[str, str], pd.DataFrame] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._limiter = Limiter(
            [Rate(self.calls_per_minute, Duration.MINUTE), Rate(self.calls_per_day, Duration.DAY)]
        )

    def fetch(self, symbols: Sequence[str], day: dt.date) -> pd.DataFrame:
        calendar.require_session(day)
        frames = [regular_session(self._month(sym, day), day, extended_hours=self.extended_hours) for sym in symbols]
        return conform(pd.concat(frames, ignore_index=True)) if frames else empty_bars()

    def _month(self, symbol: str, day: dt.date) -> pd.DataFrame:
        month = pd.Timestamp(day).strftime("%Y-%m")
        if (symbol, month) not in self._months:
            where = {"source": self.name, "symbol": symbol, "day": day}
            if not self._limiter.try_acquire(self.name, blocking=True, timeout=self.max_wait_s):
                raise RateLimited(
                    f"client-side budget of {self.calls_per_minute}/min and {self.calls_per_day}/day "
                    f"has no slot within {self.max_wait_s:g} s",
                    **where,
                )
            params = {
                "function": "TIME_SERIES_INTRADAY",
                "symbol": symbol,
                "interval": "1min",
                "month": month,
                "outputsize": "full",
                "extended_hours": str(self.extended_hours).lower(),
                "adjusted": str(self.adjusted).lower(),
                "datatype": "json",
                "apikey": self.api_key,
            }
            url = f"{self.base_url.rstrip('/')}/query"
            body = self.retry.call(
                lambda: get_json(self.http, url, params, secret=self.api_key, timeout=self.timeout_s, where=where)
            )
            self._months[symbol, month] = self._parse(body, symbol, where)
        return self._months[symbol, month]

    def _parse(self, body: Any, symbol: str, where: dict[str, Any]) -> pd.DataFrame:
        if not isinstance(body, dict):
            raise MalformedData(f"expected a JSON object, got {type(body).__name__}", **where)
        for key, error in REFUSALS.items():
            if key in body:
                raise error(f"{key}: {redact(str(body[key]), self.api_key)}", **where)
        meta, series = body.get("Meta Data"), body.get(SERIES_KEY)
        if not isinstance(meta, dict) or not isinstance(series, dict) or "6. Time Zone" not in meta:
            raise MalformedData(f"no 'Meta Data' with a time zone and {SERIES_KEY!r}; keys {list(body)}", **where)
        if str(meta.get("2. Symbol", symbol)).upper() != symbol.upper():
            raise MalformedData(f"response is about {meta['2. Symbol']!r}, not {symbol!r}", **where)
        raw = pd.DataFrame.from_dict(series, orient="index", columns=list(FIELDS))
        raw = raw.rename(columns=FIELDS).rename_axis("ts").reset_index()
        return to_bars(raw, symbol=symbol, tz=meta["6. Time Zone"], label=self.label, where=where)
