"""PolygonSource against a local server replaying Polygon-shaped bodies of real minute bars."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import traceback

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from realdata import FIXTURES, KEY, aggs_path, no_sleep_retry, polygon_pages, real_session
from werkzeug import Response

from ijules_core.bars.errors import MalformedData, RateLimited, RequestRejected, SourceError, TransientError
from ijules_core.bars.polygon import PolygonSource
from ijules_core.qc import Outcome, check_bars

DAY = dt.date(2019, 2, 14)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def source(httpserver, sleeps):
    return PolygonSource(api_key=KEY, base_url=httpserver.url_for(""), retry=no_sleep_retry(sleeps))


def serve(httpserver, ticker: str, day: dt.date, page_size: int = 50_000, bars: pd.DataFrame | None = None):
    """Register the ordered pages for one ticker and day; return the bars they carry."""
    bars = real_session(ticker, day) if bars is None else bars
    path = aggs_path(ticker, day)
    pages = polygon_pages(bars, ticker, httpserver.url_for("").rstrip("/"), path, page_size)
    first = {"adjusted": "true", "sort": "asc", "limit": "50000", "apiKey": KEY}
    for i, page in enumerate(pages):
        query = first if i == 0 else {"cursor": f"page{i}", "apiKey": KEY}
        httpserver.expect_ordered_request(path, query_string=query).respond_with_json(page)
    return bars


def test_pages_are_followed_with_the_key_and_match_the_real_bars(httpserver, source):
    expected = pd.concat([serve(httpserver, "MSFT", DAY, page_size=150), serve(httpserver, "AAPL", DAY, page_size=400)])

    bars = source.fetch(["MSFT", "AAPL"], DAY)

    httpserver.check_assertions()  # every page asked for, in order, each with apiKey
    assert len(httpserver.log) == 3 + 1
    assert_frame_equal(bars, expected.sort_values(["symbol", "ts"]).reset_index(drop=True), check_dtype=True)
    assert bars["ts"].iloc[0] == pd.Timestamp("2019-02-14 14:30", tz="UTC")  # START of the 09:30 ET bar
    assert check_bars(bars, symbols=["MSFT", "AAPL"], days=[DAY]).outcome is Outcome.CONTINUE


def test_the_real_polygon_body_maps_every_field(httpserver, source):
    """The transcribed client-go body (a daily bar, t = 00:00 ET) read as a session-day bar."""
    body = json.loads((FIXTURES / "api_samples").glob("polygon_*.json").__next__().read_text())
    day = dt.date(2021, 7, 22)
    httpserver.expect_request(aggs_path("AAPL", day)).respond_with_json(body)

    extended = PolygonSource(api_key=KEY, base_url=httpserver.url_for(""), extended_hours=True)
    bars = extended.fetch(["AAPL"], day)

    row = bars.iloc[0]
    assert row["ts"] == pd.Timestamp(1626926400000, unit="ms", tz="UTC")
    assert (row["open"], row["high"], row["low"], row["close"]) == (145.935, 148.195, 145.81, 146.8)
    assert (row["volume"], row["vwap"], row["trades"]) == (77287356, 146.991, 480209)
    assert source.fetch(["AAPL"], day).empty  # 00:00 ET is outside the regular session


def test_429_waits_retry_after_then_succeeds(httpserver, source, sleeps):
    httpserver.expect_ordered_request(aggs_path("MSFT", DAY)).respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "7"})
    )
    expected = serve(httpserver, "MSFT", DAY)

    bars = source.fetch(["MSFT"], DAY)

    assert sleeps == [7.0]
    assert len(bars) == len(expected) == 388


def test_429_without_retry_after_backs_off_and_gives_up(httpserver, source, sleeps):
    httpserver.expect_request(aggs_path("MSFT", DAY)).respond_with_data("busy", status=429)

    with pytest.raises(RateLimited, match=r"polygon \[MSFT 2019-02-14\]: HTTP 429"):
        source.fetch(["MSFT"], DAY)

    assert len(httpserver.log) == 3 and len(sleeps) == 2 and all(0 < s <= 30 for s in sleeps)


def test_5xx_is_retried_a_bounded_number_of_times(httpserver, source, sleeps):
    httpserver.expect_request(aggs_path("MSFT", DAY)).respond_with_data("oops", status=502)

    with pytest.raises(TransientError, match=r"\[MSFT 2019-02-14\]: HTTP 502") as err:
        source.fetch(["MSFT"], DAY)

    assert len(httpserver.log) == 3
    assert KEY not in str(err.value) and "apiKey=***" in str(err.value)


def test_5xx_then_success(httpserver, source, sleeps):
    httpserver.expect_ordered_request(aggs_path("MSFT", DAY)).respond_with_data("oops", status=503)
    serve(httpserver, "MSFT", DAY)

    assert len(source.fetch(["MSFT"], DAY)) == 388
    assert len(sleeps) == 1


def test_timeouts_are_retried_then_raised(httpserver, sleeps):
    release = threading.Event()

    def slow(request):
        release.wait(5)
        return Response("{}", content_type="application/json")

    httpserver.expect_request(aggs_path("MSFT", DAY)).respond_with_handler(slow)
    source = PolygonSource(api_key=KEY, base_url=httpserver.url_for(""), timeout_s=0.1, retry=no_sleep_retry(sleeps, 2))

    with pytest.raises(TransientError, match="Timeout") as err:
        source.fetch(["MSFT"], DAY)

    release.set()  # let the server answer both timed-out requests before the next test's handlers exist
    while len(httpserver.log) < 2:
        time.sleep(0.01)
    assert len(sleeps) == 1
    assert KEY not in "".join(traceback.format_exception(err.value))


def client_log(caplog) -> str:
    """What our process logged; the local test server's own access log is not ours."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))


def test_unreachable_server_never_shows_the_key(sleeps, caplog):
    source = PolygonSource(api_key=KEY, base_url="http://127.0.0.1:9", retry=no_sleep_retry(sleeps, 2))

    with caplog.at_level(logging.DEBUG, logger="urllib3"), pytest.raises(TransientError) as err:
        source.fetch(["MSFT"], DAY)

    shown = "".join(traceback.format_exception(err.value)) + client_log(caplog) + repr(source)
    assert KEY not in shown
    assert "apiKey=***" in str(err.value)


def test_key_is_not_in_debug_logs_of_a_successful_fetch(httpserver, source, caplog):
    serve(httpserver, "MSFT", DAY, page_size=200)

    with caplog.at_level(logging.DEBUG, logger="urllib3"):
        source.fetch(["MSFT"], DAY)

    assert client_log(caplog).count("apiKey=***") == 2  # urllib3 logged both request lines, redacted
    assert KEY not in client_log(caplog)


def test_malformed_json_is_not_retried(httpserver, source):
    httpserver.expect_request(aggs_path("MSFT", DAY)).respond_with_data('{"results": [', content_type="application/json")

    with pytest.raises(MalformedData, match=r"polygon \[MSFT 2019-02-14\]: .* is not JSON"):
        source.fetch(["MSFT"], DAY)
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"status": "ERROR", "error": "Unknown API Key"}, RequestRejected, "Unknown API Key"),
        ({"status": "OK", "ticker": "AAPL", "results": []}, MalformedData, "about 'AAPL', not 'MSFT'"),
        ({"status": "OK", "results": {"o": 1}}, MalformedData, "not a list"),
        ({"status": "OK", "results": [{"o": 1, "h": 1, "l": 1, "c": 1, "v": 1}]}, MalformedData, "bar 0 lacks"),
        ([1, 2], MalformedData, "expected a JSON object"),
    ],
)
def test_bad_bodies_raise_a_typed_error_naming_the_partition(httpserver, source, body, error, message):
    httpserver.expect_request(aggs_path("MSFT", DAY)).respond_with_json(body)

    with pytest.raises(error, match=message) as err:
        source.fetch(["MSFT"], DAY)
    assert isinstance(err.value, SourceError) and err.value.symbol == "MSFT" and err.value.day == DAY


def test_http_401_is_a_rejection(httpserver, source):
    httpserver.expect_request(aggs_path("MSFT", DAY)).respond_with_json({"status": "NOT_AUTHORIZED"}, status=401)

    with pytest.raises(RequestRejected, match="HTTP 401"):
        source.fetch(["MSFT"], DAY)
    assert len(httpserver.log) == 1


def test_empty_results_and_a_missing_symbol_block_in_qc(httpserver, source):
    serve(httpserver, "MSFT", DAY)
    serve(httpserver, "ZZZZ", DAY, bars=real_session("MSFT", DAY).iloc[:0])

    bars = source.fetch(["MSFT", "ZZZZ"], DAY)
    report = check_bars(bars, symbols=["MSFT", "ZZZZ"], days=[DAY])

    assert set(bars["symbol"]) == {"MSFT"}
    assert report.outcome is Outcome.BLOCK
    assert [(f.rule, f.symbol) for f in report.failures if f.severity is Outcome.BLOCK] == [("missing_symbol", "ZZZZ")]


def test_out_of_order_and_duplicate_bars_are_sorted_and_the_duplicate_blocked(httpserver, source):
    real = real_session("MSFT", DAY)
    shuffled = pd.concat([real.iloc[::-1], real.iloc[[100]]])  # newest first, one bar twice
    serve(httpserver, "MSFT", DAY, bars=shuffled)

    bars = source.fetch(["MSFT"], DAY)
    report = check_bars(bars, symbols=["MSFT"], days=[DAY])

    assert bars["ts"].is_monotonic_increasing
    assert report.rule_counts() == {"unique_symbol_ts": 1}
    assert report.outcome is Outcome.BLOCK


def test_nan_and_negative_prices_block_in_qc(httpserver, source):
    real = real_session("MSFT", DAY).copy()
    real.loc[5, "close"] = -1.0
    serve(httpserver, "MSFT", DAY, bars=real)
    bars = source.fetch(["MSFT"], DAY)
    bars.loc[7, "open"] = float("nan")

    report = check_bars(bars, symbols=["MSFT"], days=[DAY])

    assert report.rule_counts()["positive_prices"] == 1
    assert report.rule_counts()["not_null"] == 1
    assert report.outcome is Outcome.BLOCK


def test_a_holiday_is_refused_before_any_request(httpserver, source):
    with pytest.raises(ValueError, match="not an NYSE trading session"):
        source.fetch(["MSFT"], dt.date(2019, 2, 18))  # Presidents' Day
    assert httpserver.log == []
