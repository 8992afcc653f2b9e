"""The live feature stream gives the numbers `MarketData` gives, minute by minute."""

import numpy as np
from paper_data import DAY, SYMBOLS, WARMUP

from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.features import MarketData
from ijules_core.paper.stream import MarketStream, minutes_from_bars

import pandas as pd


def test_stream_matches_market_data_across_sessions_and_gaps():
    src = SyntheticSource(faults={"MSFT@" + str(WARMUP[1]): ["missing:7"], "NVDA@" + str(DAY): ["missing:3"]})
    bars = pd.concat([src.fetch(list(SYMBOLS), d) for d in [*WARMUP, DAY]], ignore_index=True)
    data = MarketData.from_bars(bars, SYMBOLS)
    stream = MarketStream(SYMBOLS)
    steps = [s for s in map(stream.update, minutes_from_bars(bars)) if s is not None]
    assert [s.ts for s in steps] == data.ts.tolist()  # a minute one symbol lacks is no step, as in MarketData
    features = np.stack([s.features for s in steps])
    # pandas' rolling sums and ours round differently in the last bit: equal to float32 precision
    np.testing.assert_allclose(features, data.features.reshape(data.n_bars, -1), rtol=0, atol=1e-6)
    assert (features == data.features.reshape(data.n_bars, -1)).mean() > 0.9999
    np.testing.assert_array_equal([s.minutes_to_close for s in steps], data.minutes_to_close)
    np.testing.assert_array_equal([s.bar_age_minutes for s in steps], data.gap_minutes - 1.0)
    assert max(s.bar_age_minutes for s in steps) > 0  # the gaps are really there
    np.testing.assert_allclose([s.correlation for s in steps], data.rolling_correlation(), atol=1e-9)
    np.testing.assert_array_equal([[s.opens[k] for k in SYMBOLS] for s in steps], data.open)
