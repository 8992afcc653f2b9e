"""Polygon.io minute aggregates (REST v2), one paged request chain per symbol and session.

`t` is epoch milliseconds (UTC) at the START of the bar, so no label shift is needed.
The key rides as the `apiKey` query parameter on every page, `next_url` included (Polygon
leaves it out of `next_url`); it never appears in a log line or an exception message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import requests

from ijules_core import calendar
from ijules_core.bars import conform, empty_bars
from ijules_core.bars.errors import MalformedData, RequestRejected, Retry, get_json
from ijules_core.bars.session import regular_session, to_bars

REQUIRED = frozenset("tohlcv")  # vw and n are optional
FIELDS = {"t": "ts", "o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vw": "vwap", "n": "trades"}
PAGE_LIMIT = 50_000


@dataclass(frozen=True)
class PolygonSource:
    api_key: str = field(repr=False)
    base_url: str = "https://api.polygon.io"
    adjusted: bool = True
    extended_hours: bool = False
    timeout_s: float = 30.0
    retry: Retry = Retry()
    name: str = "polygon"
    http: requests.Session = field(default_factory=requests.Session, repr=False, compare=False)

    def fetch(self, symbols: Sequence[str], day: dt.date) -> pd.DataFrame:
        calendar.require_session(day)
        frames = [self._fetch_symbol(sym, day) for sym in symbols]
        return conform(pd.concat(frames, ignore_index=True)) if frames else empty_bars()

    def _fetch_symbol(self, symbol: str, day: dt.date) -> pd.DataFrame:
        where = {"source": self.name, "symbol": symbol, "day": day}
        start = pd.Timestamp(day).tz_localize(calendar.TZ)
        end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(calendar.TZ)
        url: str | None = (
            f"{self.base_url.rstrip('/')}/v2/aggs/ticker/{symbol}/range/1/minute/"
            f"{start.value // 1_000_000}/{end.value // 1_000_000 - 1}"
        )
        params: dict[str, Any] = {"adjusted": str(self.adjusted).lower(), "sort": "asc", "limit": PAGE_LIMIT}
        rows: list[dict[str, Any]] = []
        while url:
            page_url, page_params = url, {**params, "apiKey": self.api_key}
            body = self.retry.call(
                lambda: get_json(
                    self.http, page_url, page_params, secret=self.api_key, timeout=self.timeout_s, where=where
                )
            )
            rows.extend(_results(body, symbol, where))
            url, params = body.get("next_url"), {}  # next_url carries the cursor and the query
        raw = pd.DataFrame.from_records(rows, columns=list(FIELDS)).rename(columns=FIELDS)
        bars = to_bars(raw, symbol=symbol, ts_unit="ms", where=where)
        return regular_session(bars, day, extended_hours=self.extended_hours)


def _results(body: Any, symbol: str, where: dict[str, Any]) -> list[dict[str, Any]]:
    """The bars of one page, after checking the page is a successful answer about `symbol`."""
    if not isinstance(body, dict):
        raise MalformedData(f"expected a JSON object, got {type(body).__name__}", **where)
    if body.get("status") not in ("OK", "DELAYED"):
        raise RequestRejected(f"status {body.get('status')!r}: {body.get('error') or body.get('message')}", **where)
    if body.get("ticker", symbol) != symbol:
        raise MalformedData(f"response is about {body['ticker']!r}, not {symbol!r}", **where)
    results = body.get("results") or []
    if not isinstance(results, list):
        raise MalformedData("'results' is not a list of bars", **where)
    for i, bar in enumerate(results):
        if not isinstance(bar, dict) or not REQUIRED <= bar.keys():
            raise MalformedData(f"bar {i} lacks some of {sorted(REQUIRED)}: {bar!r}", **where)
    return results
