import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ijules_core.features import FEATURE_NAMES, MarketData, symbol_features

from core_data import SYMBOLS, synthetic_bars

BARS = synthetic_bars("2025-11-24", "2025-11-28")  # includes the Thanksgiving early close
NVDA = BARS[BARS.symbol == "NVDA"].reset_index(drop=True)


def test_shapes_are_finite_and_clipped(month_data):
    assert month_data.features.shape == (month_data.n_bars, 2, len(FEATURE_NAMES)) == (18 * 390 + 210, 2, 12)
    assert month_data.features.dtype == np.float32
    assert np.isfinite(month_data.features).all() and np.abs(month_data.features).max() <= 10


@settings(max_examples=40, deadline=None)
@given(t=st.integers(min_value=0, max_value=len(NVDA) - 2), seed=st.integers(0, 2**16))
def test_no_look_ahead_changing_the_future_leaves_features_unchanged(t, seed):
    before = symbol_features(NVDA)
    future = NVDA.copy()
    rng = np.random.default_rng(seed)
    n = len(future) - t - 1
    scale = rng.uniform(0.5, 1.5, size=n)
    for col in ("open", "high", "low", "close"):
        future.loc[t + 1:, col] = future.loc[t + 1:, col].to_numpy() * scale
    future.loc[t + 1:, "volume"] = rng.integers(1, 10**6, size=n)
    after = symbol_features(future)
    np.testing.assert_array_equal(before[: t + 1], after[: t + 1])
    assert not np.array_equal(before[t + 1:], after[t + 1:])  # the change did reach the future


TWO_DAYS = BARS[BARS.ts < "2025-11-26"].reset_index(drop=True)


@settings(max_examples=15, deadline=None)
@given(t=st.integers(min_value=0, max_value=len(TWO_DAYS) // 2 - 2), seed=st.integers(0, 2**16))
def test_no_look_ahead_in_the_aligned_market_data(t, seed):
    """The same property for the container: alignment, features of both symbols, the rolling correlation."""
    before = MarketData.from_bars(TWO_DAYS, SYMBOLS)
    cut = before.ts[t]
    future = TWO_DAYS.copy()
    later = (future.ts.astype("int64") > cut).to_numpy()
    rng = np.random.default_rng(seed)
    future.loc[later, ["open", "high", "low", "close"]] *= rng.uniform(0.5, 1.5, size=(later.sum(), 1))
    future.loc[later, "volume"] = rng.integers(1, 10**6, size=later.sum())
    after = MarketData.from_bars(future, SYMBOLS)
    np.testing.assert_array_equal(before.features[: t + 1], after.features[: t + 1])
    np.testing.assert_array_equal(before.rolling_correlation()[: t + 1], after.rolling_correlation()[: t + 1])
    np.testing.assert_array_equal(before.close[: t + 1], after.close[: t + 1])
    assert not np.array_equal(before.close[t + 1:], after.close[t + 1:])


def test_session_bookkeeping_and_early_close():
    md = MarketData.from_bars(BARS, SYMBOLS)
    bounds = md.session_bounds()
    assert [b - a for a, b in bounds] == [390, 390, 390, 210]
    last_bar_of_half_day = bounds[-1][1] - 1
    assert md.minutes_to_close[last_bar_of_half_day] == 0
    assert md.minutes_to_close[bounds[-1][0]] == 209
    assert (md.gap_minutes == 1).all()


def test_a_missing_minute_becomes_a_gap_not_a_misaligned_row():
    bars = BARS.drop(index=BARS[(BARS.symbol == "MSFT")].index[100])
    md = MarketData.from_bars(bars, SYMBOLS)
    assert md.n_bars == len(BARS) // 2 - 1
    assert sorted(np.unique(md.gap_minutes)) == [1.0, 2.0]


@pytest.mark.parametrize("value", [np.nan, np.inf, 0.0, -1.0])
def test_bad_prices_are_refused_with_symbol_and_time(value):
    bars = BARS.copy()
    bars.loc[5, "close"] = value
    with pytest.raises(ValueError, match=r"bad price for MSFT at 2025-11-24 14:35:00"):
        MarketData.from_bars(bars, SYMBOLS)


def test_missing_volume_and_duplicate_bars_are_refused():
    bars = BARS.copy()
    bars["volume"] = bars["volume"].astype("Int64")
    bars.loc[7, "volume"] = pd.NA
    with pytest.raises(ValueError, match=r"bad volume for MSFT at 2025-11-24 14:37:00"):
        MarketData.from_bars(bars, SYMBOLS)
    with pytest.raises(ValueError, match=r"duplicate bar for MSFT at 2025-11-24 14:33:00"):
        MarketData.from_bars(pd.concat([BARS, BARS.iloc[[3]]]), SYMBOLS)


def test_missing_symbol_and_empty_input_are_refused():
    with pytest.raises(ValueError, match=r"no bars for symbol\(s\) \['AAPL'\]"):
        MarketData.from_bars(BARS, ["NVDA", "AAPL"])
    with pytest.raises(ValueError, match="no bars"):
        MarketData.from_bars(BARS.iloc[:0], SYMBOLS)
