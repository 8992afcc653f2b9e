"""Synthetic market data shared by the trading-core tests."""

import pandas as pd

from ijules_core import calendar
from ijules_core.bars.synthetic import SyntheticSource

SYMBOLS = ["NVDA", "MSFT"]


def synthetic_bars(start: str, end: str, **kw) -> pd.DataFrame:
    src = SyntheticSource(**kw)
    return pd.concat([src.fetch(SYMBOLS, d) for d in calendar.sessions(start, end)], ignore_index=True)
