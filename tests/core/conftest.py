import pytest
from core_data import SYMBOLS, synthetic_bars

from ijules_core.features import MarketData


@pytest.fixture(scope="session")
def month_data() -> MarketData:
    return MarketData.from_bars(synthetic_bars("2025-11-03", "2025-11-28"), SYMBOLS)
