"""Seeded synthetic 1-minute bars: the offline default source.

Realistic enough to exercise the whole stack: correlated log-returns between symbols
(one-factor model: loading sqrt(rho) gives pairwise correlation `rho`), U-shaped intraday volatility and volume,
prices on a cent grid and OHLC that is consistent by construction. A (seed, symbol, day)
triple always yields the same bars, whatever else is asked for in the same call.

`faults` injects seeded defects so QC can be shown catching each kind: keys are `"*"`
(every partition — a rate), a day `"2026-03-02"`, a symbol `"MSFT"` or both
`"MSFT@2026-03-02"`; values are a `Faults` or specs like `["missing:30", "spike"]`.
Every matching key applies, counts adding up.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from ijules_core import calendar
from ijules_core.bars import PRICE_COLUMNS, conform

DEFAULT_PRICES = {"NVDA": 480.0, "MSFT": 410.0}
SPIKE = 1.2  # a spiked close is 20 % off, then the next bar opens back on the path
WARM_UP = 30  # spikes and stale runs start after the first half hour, where QC has a σ to compare with


@dataclass(frozen=True)
class Faults:
    """Counts of seeded defects in one (symbol, day)."""

    missing: int = 0  # minutes dropped
    spike: int = 0  # bars whose close jumps `SPIKE`-fold
    stale: int = 0  # length of one run of identical closes while volume still trades
    duplicate: int = 0  # rows repeated

    DEFAULTS = {"missing": 1, "spike": 1, "stale": 15, "duplicate": 1}  # for a spec without a count

    @classmethod
    def parse(cls, spec: Faults | str | Iterable[str]) -> Faults:
        """A `Faults` from specs such as `"missing:30"`, `"spike"`, `["stale:20", "duplicate:3"]`."""
        if isinstance(spec, Faults):
            return spec
        counts: dict[str, int] = {}
        for item in [spec] if isinstance(spec, str) else spec:
            kind, _, count = item.partition(":")
            if kind not in cls.DEFAULTS:
                raise ValueError(f"unknown fault {item!r}: use {', '.join(cls.DEFAULTS)} with an optional :count")
            counts[kind] = counts.get(kind, 0) + (int(count) if count else cls.DEFAULTS[kind])
        return cls(**counts)

    def __add__(self, other: Faults) -> Faults:
        return Faults(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def apply(self, bars: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """`bars` (one symbol-day, index 0..n-1) with the defects; the drawn positions never overlap."""
        if self == Faults():
            return bars
        n = len(bars)
        middle = np.arange(WARM_UP, n - WARM_UP)
        if self.stale + self.spike > len(middle):
            raise ValueError(f"{self} does not fit in a session of {n} bars")
        out = bars.copy()
        run = np.arange(0)
        if self.stale:
            start = int(rng.integers(WARM_UP, n - WARM_UP - self.stale + 1))
            run = np.arange(start, start + self.stale)
            out.loc[run, PRICE_COLUMNS] = out.at[start, "close"]  # flat bars, volume still trading
        spiked = rng.choice(np.setdiff1d(middle, run), self.spike, replace=False)
        out.loc[spiked, "close"] = np.round(out.loc[spiked, "close"] * SPIKE, 2)
        out.loc[spiked, "high"] = np.maximum(out.loc[spiked, "high"], out.loc[spiked, "close"])
        out = out.drop(index=rng.choice(np.setdiff1d(np.arange(n), np.r_[run, spiked]), self.missing, replace=False))
        return pd.concat([out, out.sample(self.duplicate, random_state=rng)], ignore_index=True)


@dataclass(frozen=True)
class SyntheticSource:
    seed: int = 7
    rho: float = 0.6
    annual_vol: float = 0.35
    base_prices: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    faults: Mapping[str, Faults | str | Sequence[str]] = field(default_factory=dict)
    name: str = "synthetic"

    def __post_init__(self) -> None:
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"rho must lie in [0, 1), got {self.rho}")
        if self.annual_vol <= 0:
            raise ValueError(f"annual_vol must be positive, got {self.annual_vol}")
        for spec in self.faults.values():
            Faults.parse(spec)  # fail at construction, not in the middle of a run

    def faults_for(self, symbol: str, day: dt.date) -> Faults:
        iso = pd.Timestamp(day).date().isoformat()
        keys = {"*", iso, symbol, f"{symbol}@{iso}"}
        return sum((Faults.parse(v) for k, v in self.faults.items() if k in keys), Faults())

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
            bars = pd.DataFrame(
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
            frames.append(self.faults_for(sym, day).apply(bars, self._rng("faults", sym, day)))
        return conform(pd.concat(frames, ignore_index=True))
