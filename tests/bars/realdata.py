"""Real fixture files for the source tests, and Polygon minute bodies built from them.

No real minute-level Polygon body is public, so `polygon_pages` writes real 1-minute bars
(from the eqker CSVs) in the exact shape of Polygon's /v2/aggs response
(tests/fixtures/api_samples/polygon_*.json): `t` = bar start in epoch ms UTC, pages linked
by `next_url` carrying a cursor and no key, as Polygon sends them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ijules_core.bars.errors import Retry
from ijules_core.bars.files import ALPHA_VANTAGE_CSV, read_file
from ijules_core.bars.session import regular_session

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
INTRADAY = FIXTURES / "intraday_1min"
EQKER_SYMBOLS = ["AAPL", "MSFT", "QQQ", "SPY", "TSLA"]
KEY = "sekret-key-5f3a9c"  # a recognisable fake: tests assert it never leaks


def eqker(symbol: str) -> Path:
    return INTRADAY / f"{symbol}_1min_2019-02-11_2019-02-15_eqker.csv"


def real_session(symbol: str, day: dt.date) -> pd.DataFrame:
    """The real regular-session bars of one eqker symbol and day, normalised."""
    return regular_session(read_file(eqker(symbol), ALPHA_VANTAGE_CSV), day)


def day_range_ms(day: dt.date) -> tuple[int, int]:
    """The New York calendar day as Polygon's from/to epoch milliseconds (inclusive)."""
    start = pd.Timestamp(day, tz="America/New_York")
    end = pd.Timestamp(day + dt.timedelta(days=1), tz="America/New_York")
    return start.value // 10**6, end.value // 10**6 - 1


def aggs_path(ticker: str, day: dt.date) -> str:
    lo, hi = day_range_ms(day)
    return f"/v2/aggs/ticker/{ticker}/range/1/minute/{lo}/{hi}"


def polygon_pages(bars: pd.DataFrame, ticker: str, base_url: str, path: str, page_size: int) -> list[dict]:
    """Polygon aggregate bodies for `bars`, `page_size` results a page, linked by `next_url`."""
    results = [
        {"v": int(r.volume), "o": r.open, "c": r.close, "h": r.high, "l": r.low, "t": r.ts.value // 10**6}
        for r in bars.itertuples()
    ]
    chunks = [results[i : i + page_size] for i in range(0, len(results), page_size)] or [[]]
    pages = []
    for i, chunk in enumerate(chunks):
        page = {
            "ticker": ticker,
            "queryCount": len(chunk),
            "resultsCount": len(chunk),
            "adjusted": True,
            "results": chunk,
            "status": "OK",
            "request_id": f"req{i}",
            "count": len(chunk),
        }
        if not chunk:
            del page["results"]  # Polygon omits `results` when there are none
        if i + 1 < len(chunks):
            page["next_url"] = f"{base_url}{path}?cursor=page{i + 1}"
        pages.append(page)
    return pages


def no_sleep_retry(sleeps: list[float], attempts: int = 3) -> Retry:
    """Retries that record their waits instead of sleeping."""
    return Retry(attempts=attempts, initial_wait_s=0.5, max_wait_s=30, sleep=sleeps.append)
