"""Paper-trading fixtures: a migrated database with three synthetic sessions in the bar table."""

import pytest
from paper_data import DAY, WARMUP, session_bars

from ijules_core import calendar
from ijules_core.store.bars import write_bars
from ijules_core.store.db import connect


@pytest.fixture
def market_url(db_url):
    """A database whose bar table holds DAY and the two sessions before it."""
    assert calendar.previous_sessions(DAY, 3) == [*WARMUP, DAY]
    with connect(db_url) as conn:
        write_bars(conn, session_bars([*WARMUP, DAY]), "synthetic")
    return db_url
