"""Drop-folder files: every real export read through configuration alone."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from realdata import EQKER_SYMBOLS, INTRADAY, eqker

from ijules_core.bars.errors import MalformedData
from ijules_core.bars.files import ALPHA_VANTAGE_CSV, NINJATRADER, FileLayout, FilesSource, partitions, read_file
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.qc import Outcome, check_bars

AV_EXTENDED = INTRADAY / "MSFT_1min_2020-11-23_2020-12-18_alphavantage_extended.csv"
NT_SPY = INTRADAY / "SPY_1min_2011-03_ninjatrader_pyalgotrade.csv"


def test_eqker_end_labelled_descending_becomes_start_labelled_ascending_utc():
    bars = read_file(eqker("MSFT"), ALPHA_VANTAGE_CSV)

    assert len(bars) == 1948 and bars["ts"].is_monotonic_increasing
    last = bars.iloc[-1]  # file's first line: 2019-02-15 16:00:00,108.13,108.21,108.09,108.21,442343
    assert last["ts"] == pd.Timestamp("2019-02-15 20:59", tz="UTC")
    assert (last["open"], last["high"], last["low"], last["close"], last["volume"]) == (108.13, 108.21, 108.09, 108.21, 442343)
    assert bars["ts"].iloc[0] == pd.Timestamp("2019-02-11 14:30", tz="UTC")  # 09:31 END = 09:30 ET start


def test_partitions_tell_the_sensor_what_a_file_feeds():
    assert partitions(eqker("TSLA"), ALPHA_VANTAGE_CSV) == [("TSLA", dt.date(2019, 2, d)) for d in range(11, 16)]
    extended = partitions(AV_EXTENDED, ALPHA_VANTAGE_CSV)
    assert len(extended) == 19 and ("MSFT", dt.date(2020, 11, 26)) not in extended  # Thanksgiving
    assert ("MSFT", dt.date(2020, 11, 27)) in extended
    ninja = partitions(NT_SPY, NINJATRADER)
    assert [d for _, d in ninja] == [pd.Timestamp(d).date() for d in pd.bdate_range("2011-03-01", "2011-03-31")]


def test_extended_hours_kept_only_when_asked():
    folder = FilesSource(INTRADAY, ALPHA_VANTAGE_CSV, glob="*alphavantage_extended.csv")
    extended = FilesSource(INTRADAY, ALPHA_VANTAGE_CSV, glob="*alphavantage_extended.csv", extended_hours=True)
    day = dt.date(2020, 12, 1)

    regular, full = folder.fetch(["MSFT"], day), extended.fetch(["MSFT"], day)

    assert len(regular) == 390
    assert regular["ts"].iloc[[0, -1]].tolist() == [pd.Timestamp("2020-12-01 14:30", tz="UTC"), pd.Timestamp("2020-12-01 20:59", tz="UTC")]
    assert len(full) > len(regular) and full["ts"].min() < regular["ts"].min() and full["ts"].max() > regular["ts"].max()
    assert check_bars(full, extended_hours=True).outcome is Outcome.CONTINUE
    assert check_bars(full).rule_counts().keys() == {"inside_session"}  # a regular-hours batch must not carry them


def test_early_close_keeps_210_bars_until_13_00():
    bars = FilesSource(INTRADAY, ALPHA_VANTAGE_CSV, glob="*alphavantage_extended.csv").fetch(["MSFT"], dt.date(2020, 11, 27))

    assert len(bars) == 210
    assert bars["ts"].iloc[-1] == pd.Timestamp("2020-11-27 17:59", tz="UTC")  # 12:59 ET start, close 13:00


def test_ninjatrader_utc_stamps_follow_the_dst_switch():
    source = FilesSource(INTRADAY, NINJATRADER, glob="*ninjatrader*.csv")
    before, after = source.fetch(["SPY"], dt.date(2011, 3, 11)), source.fetch(["SPY"], dt.date(2011, 3, 14))

    assert before["ts"].iloc[0] == pd.Timestamp("2011-03-11 14:30", tz="UTC")  # EST
    assert after["ts"].iloc[0] == pd.Timestamp("2011-03-14 13:30", tz="UTC")  # EDT
    assert len(before) == len(after) == 390


def test_a_folder_of_several_symbols_and_a_missing_one():
    source = FilesSource(INTRADAY, ALPHA_VANTAGE_CSV, glob="*eqker.csv")

    bars = source.fetch(EQKER_SYMBOLS + ["NVDA"], dt.date(2019, 2, 13))
    report = check_bars(bars, symbols=EQKER_SYMBOLS + ["NVDA"], days=[dt.date(2019, 2, 13)])

    assert bars.groupby("symbol").size().to_dict() == dict.fromkeys(EQKER_SYMBOLS, 390)
    assert [(f.rule, f.symbol) for f in report.failures] == [("missing_symbol", "NVDA")]


def test_wrong_columns_name_the_file(tmp_path):
    path = tmp_path / "MSFT_prices.csv"
    path.write_text("date,price\n2019-02-11 09:31:00,1.0\n")

    with pytest.raises(MalformedData, match=r"files \[MSFT_prices.csv\]: missing columns \['ts', 'open', 'high', 'low', 'close', 'volume'\]"):
        FilesSource(tmp_path, ALPHA_VANTAGE_CSV).fetch(["MSFT"], dt.date(2019, 2, 11))


def test_a_file_with_no_symbol_anywhere(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(eqker("MSFT").read_text())

    with pytest.raises(MalformedData, match=r"\[prices.csv\]: no symbol column and none in the name"):
        read_file(path, ALPHA_VANTAGE_CSV)


def test_empty_and_garbled_files(tmp_path):
    (tmp_path / "MSFT_a.csv").write_text("")
    with pytest.raises(MalformedData, match=r"\[MSFT_a.csv\]: unreadable file"):
        read_file(tmp_path / "MSFT_a.csv", ALPHA_VANTAGE_CSV)
    (tmp_path / "MSFT_b.csv").write_text("time,open,high,low,close,volume\nyesterday,1,1,1,1,1\n")
    with pytest.raises(MalformedData, match=r"\[MSFT_b.csv\]: unreadable bars"):
        read_file(tmp_path / "MSFT_b.csv", ALPHA_VANTAGE_CSV)


def test_naive_and_aware_stamps_give_the_same_bars(tmp_path):
    naive = read_file(eqker("QQQ"), ALPHA_VANTAGE_CSV)
    raw = pd.read_csv(eqker("QQQ"))
    raw["datetime"] = pd.to_datetime(raw["datetime"]).dt.tz_localize("America/New_York").map(pd.Timestamp.isoformat)
    (tmp_path / "QQQ_aware.csv").write_text(raw.to_csv(index=False))  # e.g. 2019-02-15T16:00:00-05:00

    aware = read_file(tmp_path / "QQQ_aware.csv", FileLayout(columns={"datetime": "ts"}, tz="Asia/Tokyo", label="end"))

    assert_frame_equal(aware, naive)  # an explicit offset wins over the layout's zone


def test_mixed_naive_and_aware_stamps_are_refused(tmp_path):
    path = tmp_path / "QQQ_mixed.csv"
    path.write_text("time,open,high,low,close,volume\n2019-02-11 09:31:00,1,1,1,1,1\n2019-02-11T09:32:00-05:00,1,1,1,1,1\n")

    with pytest.raises(MalformedData, match=r"\[QQQ_mixed.csv\]: unreadable bars: time data .*-05:00"):
        read_file(path, ALPHA_VANTAGE_CSV)


def test_parquet_in_our_own_schema_round_trips(tmp_path):
    bars = SyntheticSource().fetch(["NVDA", "MSFT"], dt.date(2026, 3, 2))
    bars.to_parquet(tmp_path / "batch_2026-03-02.parquet")

    got = FilesSource(tmp_path).fetch(["NVDA", "MSFT"], dt.date(2026, 3, 2))

    assert_frame_equal(got, bars)
    assert partitions(tmp_path / "batch_2026-03-02.parquet") == [("MSFT", dt.date(2026, 3, 2)), ("NVDA", dt.date(2026, 3, 2))]
