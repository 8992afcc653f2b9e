"""Synthetic sessions shared by the paper-trading tests."""

import datetime as dt

import pandas as pd

from ijules_core.bars.synthetic import SyntheticSource

SYMBOLS = ("NVDA", "MSFT")
WARMUP = [dt.date(2025, 11, 20), dt.date(2025, 11, 21)]
DAY = dt.date(2025, 11, 24)  # the replayed session


def session_bars(days, seed: int = 7) -> pd.DataFrame:
    src = SyntheticSource(seed=seed)
    return pd.concat([src.fetch(list(SYMBOLS), d) for d in days], ignore_index=True)
