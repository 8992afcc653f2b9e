"""Paper-trading fixtures: a migrated database with three synthetic sessions in the bar table."""

import datetime as dt

import pandas as pd
import pytest

from ijules_core import calendar
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.store.bars import write_bars
from ijules_core.store.db import connect

SYMBOLS = ("NVDA", "MSFT")
WARMUP = [dt.date(2025, 11, 20), dt.date(2025, 11, 21)]
DAY = dt.date(2025, 11, 24)  # the replayed session


def session_bars(days, seed: int = 7) -> pd.DataFrame:
    src = SyntheticSource(seed=seed)
    return pd.concat([src.fetch(list(SYMBOLS), d) for d in days], ignore_index=True)


@pytest.fixture
def market_url(db_url):
    """A database whose bar table holds DAY and the two sessions before it."""
    assert calendar.previous_sessions(DAY, 3) == [*WARMUP, DAY]
    with connect(db_url) as conn:
        write_bars(conn, session_bars([*WARMUP, DAY]), "synthetic")
    return db_url
