import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.store import connect
from ijules_core.store.bars import _day_bounds, read_bars, slice_counts, write_bars

DAYS = [dt.date(2026, 11, 20), dt.date(2026, 11, 27)]  # a full day and the Thanksgiving early close


def _bars(days=DAYS, **kw):
    src = SyntheticSource(**kw)
    return pd.concat([src.fetch(["NVDA", "MSFT"], d) for d in days], ignore_index=True)


def test_roundtrip_preserves_every_value_and_nulls(db_url):
    df = _bars()
    df.loc[3, "vwap"] = np.nan
    df.loc[5, "trades"] = pd.NA
    with connect(db_url) as conn:
        assert write_bars(conn, df, "synthetic") == len(df)
        back = read_bars(conn, ["NVDA", "MSFT"], DAYS[0], DAYS[-1])
    pd.testing.assert_frame_equal(back, df.sort_values(["symbol", "ts"]).reset_index(drop=True))


def test_three_loads_give_identical_rows(db_url):
    df = _bars()
    with connect(db_url) as conn:
        for _ in range(3):
            write_bars(conn, df, "synthetic")
        counts = slice_counts(conn, DAYS[0], DAYS[-1])
        back = read_bars(conn, ["NVDA", "MSFT"], DAYS[0], DAYS[-1])
    assert counts["bars"].tolist() == [390, 390, 210, 210]
    pd.testing.assert_frame_equal(back, df.sort_values(["symbol", "ts"]).reset_index(drop=True))


def test_reload_replaces_slice_and_leaves_other_days_alone(db_url):
    with connect(db_url) as conn:
        write_bars(conn, _bars(seed=1), "synthetic")
        shorter = _bars(days=DAYS[:1], seed=2).iloc[10:]  # day 1 reloaded with fewer rows, other values
        write_bars(conn, shorter, "synthetic", slices=[("NVDA", DAYS[0]), ("MSFT", DAYS[0])])
        day1 = read_bars(conn, ["NVDA", "MSFT"], DAYS[0], DAYS[0])
        day2 = read_bars(conn, ["NVDA", "MSFT"], DAYS[1], DAYS[1])
    pd.testing.assert_frame_equal(day1, shorter.sort_values(["symbol", "ts"]).reset_index(drop=True))
    assert len(day2) == 420


def test_failed_load_leaves_table_as_it_was(db_url):
    good = _bars(days=DAYS[:1])
    with connect(db_url) as conn:
        write_bars(conn, good, "synthetic")
        dup = pd.concat([good, good.iloc[:1]])  # duplicate (symbol, ts) fails the primary key mid-COPY
        with pytest.raises(Exception, match="duplicate key"):
            write_bars(conn, dup, "synthetic")
        assert len(read_bars(conn, ["NVDA", "MSFT"], DAYS[0], DAYS[0])) == len(good)


def test_naive_timestamps_are_refused(db_url):
    df = _bars(days=DAYS[:1])
    df["ts"] = df["ts"].dt.tz_localize(None)
    with connect(db_url) as conn, pytest.raises(ValueError, match="naive"):
        write_bars(conn, df, "synthetic")


def test_day_bounds_cover_dst_days():
    lo, hi = _day_bounds(dt.date(2026, 11, 1))  # fall back: 25 hours
    assert hi - lo == pd.Timedelta(hours=25)
    lo, hi = _day_bounds(dt.date(2026, 3, 8))  # spring forward: 23 hours
    assert hi - lo == pd.Timedelta(hours=23)


def test_aggregate_views_match_the_bars(db_url):
    df = _bars(days=DAYS[:1])
    with connect(db_url) as conn:
        write_bars(conn, df, "synthetic")
        daily = conn.execute(
            "SELECT symbol, open, high, low, close, volume, bars FROM market_data.bars_daily ORDER BY symbol"
        ).fetchall()
        five = conn.execute("SELECT count(*), sum(bars) FROM market_data.bars_5min").fetchone()
    for sym, o, h, low, c, v, n in daily:
        s = df[df.symbol == sym]
        assert (o, h, low, c, v, n) == (s.open.iloc[0], s.high.max(), s.low.min(), s.close.iloc[-1], s.volume.sum(), 390)
    assert five == (2 * 78, 780)
