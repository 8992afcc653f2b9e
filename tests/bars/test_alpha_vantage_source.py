"""AlphaVantageSource against a local server replaying the real TIME_SERIES_INTRADAY response."""

from __future__ import annotations

import datetime as dt
import json
import time

import pandas as pd
import pytest
from realdata import FIXTURES, KEY, no_sleep_retry

from ijules_core.bars.alpha_vantage import AlphaVantageSource
from ijules_core.bars.errors import MalformedData, RateLimited, RequestRejected, TransientError
from ijules_core.qc import Outcome, check_bars

REAL = json.loads((FIXTURES / "api_samples" / "alphavantage_TIME_SERIES_INTRADAY_MSFT_1min_compact_2017-12-18.json").read_text())
DAY = dt.date(2017, 12, 18)
QUERY = {
    "function": "TIME_SERIES_INTRADAY",
    "symbol": "MSFT",
    "interval": "1min",
    "month": "2017-12",
    "outputsize": "full",
    "extended_hours": "false",
    "adjusted": "true",
    "datatype": "json",
    "apikey": KEY,
}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def source(httpserver, sleeps):
    return AlphaVantageSource(api_key=KEY, base_url=httpserver.url_for(""), retry=no_sleep_retry(sleeps))


def test_real_response_becomes_start_labelled_ascending_utc(httpserver, source):
    httpserver.expect_request("/query", query_string=QUERY).respond_with_json(REAL)

    bars = source.fetch(["MSFT"], DAY)

    assert len(bars) == 100 and bars["ts"].is_monotonic_increasing
    # "2017-12-18 13:17:00" US/Eastern ends the 13:16 minute: 18:16 UTC start
    first = REAL["Time Series (1min)"]["2017-12-18 13:17:00"]
    row = bars.iloc[0]
    assert row["ts"] == pd.Timestamp("2017-12-18 18:16", tz="UTC")
    assert [row[c] for c in ("open", "high", "low", "close")] == [float(first[k]) for k in ("1. open", "2. high", "3. low", "4. close")]
    assert row["volume"] == int(first["5. volume"])
    assert bars["ts"].iloc[-1] == pd.Timestamp("2017-12-18 19:55", tz="UTC")  # last refreshed 14:56 ET


def test_real_compact_response_is_really_incomplete_and_blocks(httpserver, source):
    """`outputsize=compact` answers only the last 100 minutes: QC must refuse the day."""
    httpserver.expect_request("/query").respond_with_json(REAL)

    report = check_bars(source.fetch(["MSFT"], DAY), symbols=["MSFT"], days=[DAY])

    assert report.outcome is Outcome.BLOCK
    assert report.rule_counts() == {"completeness": 290}
    assert report.failures[0].examples == ("09:30", "09:31", "09:32")


def test_start_label_option_keeps_the_stamps(httpserver):
    httpserver.expect_request("/query").respond_with_json(REAL)
    source = AlphaVantageSource(api_key=KEY, base_url=httpserver.url_for(""), label="start")

    assert source.fetch(["MSFT"], DAY)["ts"].iloc[0] == pd.Timestamp("2017-12-18 18:17", tz="UTC")


def test_a_month_is_fetched_once_for_many_days(httpserver, source):
    httpserver.expect_request("/query").respond_with_json(REAL)

    source.fetch(["MSFT"], DAY)
    assert source.fetch(["MSFT"], dt.date(2017, 12, 19)).empty
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute"}, RateLimited),
        ({"Information": "Our standard API rate limit is 25 requests per day."}, RateLimited),
        ({"Error Message": "Invalid API call. Please retry or visit the documentation."}, RequestRejected),
    ],
)
def test_http_200_refusals_raise_and_are_not_retried(httpserver, source, body, error):
    httpserver.expect_request("/query").respond_with_json(body)

    with pytest.raises(error, match=rf"alpha_vantage \[MSFT 2017-12-18\]: {next(iter(body))}: ") as err:
        source.fetch(["MSFT"], DAY)

    assert len(httpserver.log) == 1
    assert KEY not in str(err.value)


def test_a_refusal_echoing_the_key_is_redacted(httpserver, source):
    httpserver.expect_request("/query").respond_with_json({"Error Message": f"bad apikey {KEY}"})

    with pytest.raises(RequestRejected) as err:
        source.fetch(["MSFT"], DAY)
    assert KEY not in str(err.value) and "***" in str(err.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**REAL, "Meta Data": {**REAL["Meta Data"], "2. Symbol": "AAPL"}}, "about 'AAPL', not 'MSFT'"),
        ({"Meta Data": REAL["Meta Data"]}, "no 'Meta Data' with a time zone"),
        ({"Time Series (1min)": REAL["Time Series (1min)"]}, "no 'Meta Data'"),
        ({**REAL, "Time Series (1min)": {"2017-12-18 13:17:00+05:00": {"1. open": "1"}, "2017-12-18 13:18:00": {}}}, "unreadable bars"),
    ],
)
def test_malformed_bodies_name_the_partition(httpserver, source, body, message):
    httpserver.expect_request("/query").respond_with_json(body)

    with pytest.raises(MalformedData, match=message):
        source.fetch(["MSFT"], DAY)


def test_malformed_json(httpserver, source):
    httpserver.expect_request("/query").respond_with_data("<html>maintenance</html>")

    with pytest.raises(MalformedData, match=r"\[MSFT 2017-12-18\]: .* is not JSON: '<html>"):
        source.fetch(["MSFT"], DAY)


def test_server_errors_are_retried(httpserver, source, sleeps):
    httpserver.expect_ordered_request("/query").respond_with_data("down", status=500)
    httpserver.expect_ordered_request("/query").respond_with_json(REAL)

    assert len(source.fetch(["MSFT"], DAY)) == 100
    assert len(sleeps) == 1


def test_server_errors_give_up_after_the_attempts(httpserver, source):
    httpserver.expect_request("/query").respond_with_data("down", status=503)

    with pytest.raises(TransientError, match="HTTP 503"):
        source.fetch(["MSFT"], DAY)
    assert len(httpserver.log) == 3


def test_client_side_budget_refuses_without_calling(httpserver):
    httpserver.expect_request("/query").respond_with_json({**REAL, "Time Series (1min)": {}})
    source = AlphaVantageSource(api_key=KEY, base_url=httpserver.url_for(""), calls_per_minute=2, max_wait_s=0.2)

    source.fetch(["MSFT"], dt.date(2017, 10, 2))
    source.fetch(["MSFT"], dt.date(2017, 11, 1))
    started = time.monotonic()
    with pytest.raises(RateLimited, match="client-side budget of 2/min and 25/day"):
        source.fetch(["MSFT"], DAY)

    assert time.monotonic() - started < 2
    assert len(httpserver.log) == 2


def test_extended_hours_are_asked_for_and_kept(httpserver):
    body = {**REAL, "Time Series (1min)": {"2017-12-18 04:01:00": {"1. open": "85", "2. high": "85", "3. low": "85", "4. close": "85", "5. volume": "10"}}}
    httpserver.expect_request("/query", query_string={**QUERY, "extended_hours": "true"}).respond_with_json(body)
    source = AlphaVantageSource(api_key=KEY, base_url=httpserver.url_for(""), extended_hours=True)

    bars = source.fetch(["MSFT"], DAY)

    assert bars["ts"].tolist() == [pd.Timestamp("2017-12-18 09:00", tz="UTC")]  # 04:00 ET start
