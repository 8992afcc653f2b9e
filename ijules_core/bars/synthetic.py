"""Seeded synthetic 1-minute bars: the offline default source.

Realistic enough to exercise the whole stack: correlated log-returns between symbols
(one-factor model: loading sqrt(rho) gives pairwise correlation `rho`), U-shaped intraday volatility and volume,
prices on a cent grid and OHLC that is consistent by construction. A (seed, symbol, day)
triple always yields the same bars, whatever else is asked for in the same call.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ijules_core import calendar
from ijules_core.bars import conform

DEFAULT_PRICES = {"NVDA": 480.0, "MSFT": 410.0}


@dataclass(frozen=True)
class SyntheticSource:
    seed: int = 7
    rho: float = 0.6
    annual_vol: float = 0.35
    base_prices: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    name: str = "synthetic"

    def __post_init__(self) -> None:
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"rho must lie in [0, 1), got {self.rho}")
        if self.annual_vol <= 0:
            raise ValueError(f"annual_vol must be positive, got {self.annual_vol}")

    def _rng(self, *parts: object) -> np.random.Generator:
        key = zlib.crc32("|".join(map(str, (self.seed, *parts))).encode())
        return np.random.default_rng(key)

    def fetch(self, symbols: Sequence[str], day: dt.date) -> pd.DataFrame:
        minutes = calendar.session_minutes(day)
        n = len(minutes)
        u = np.linspace(-1.0, 1.0, n)
        intraday = 0.6 + 0.8 * u**2  # U shape: busy open and close, quiet lunch
        sigma = self.annual_vol / np.sqrt(252 * 390) * intraday
        market = self._rng("market", day).standard_normal(n + 1)
        frames = []
        for sym in symbols:
            rng = self._rng(sym, day)
            idio = rng.standard_normal(n + 1)
            z = np.sqrt(self.rho) * market + np.sqrt(1 - self.rho) * idio
            base = self.base_prices.get(sym, 100.0 + zlib.crc32(sym.encode()) % 400)
            day_level = base * np.exp(0.02 * self._rng(sym, "level", day).standard_normal())
            log_path = np.log(day_level) + np.cumsum(np.r_[0.0, sigma] * z[: n + 1])
            path = np.exp(log_path)  # n+1 points: open of bar i is path[i], close is path[i+1]
            opens, closes = path[:-1], path[1:]
            wick = np.abs(rng.standard_normal((2, n))) * sigma * path[1:] * 0.5
            highs = np.maximum(opens, closes) + wick[0]
            lows = np.minimum(opens, closes) - wick[1]
            o, h, l, c = (np.round(x, 2) for x in (opens, highs, lows, closes))
            h = np.maximum.reduce([h, o, c])
            l = np.maximum(np.minimum.reduce([l, o, c]), 0.01)
            volume = rng.poisson(2_000 * intraday**2 * (1 + 0.5 * rng.random(n))) + 1
            frames.append(
                pd.DataFrame(
                    {
                        "ts": minutes,
                        "symbol": sym,
                        "open": o,
                        "high": h,
                        "low": l,
                        "close": c,
                        "volume": volume,
                        "vwap": np.round((o + h + l + c) / 4, 4),
                        "trades": np.maximum(volume // 50, 1),
                    }
                )
            )
        return conform(pd.concat(frames, ignore_index=True))
