"""Bars: the one schema every source produces, and the sources themselves.

A bar frame has one row per (symbol, minute) with the columns in `BAR_COLUMNS`:
`ts` is the START of the minute as a tz-aware UTC timestamp, prices are float64 dollars,
`volume` and `trades` are nullable integers (Int64), `vwap` and `trades` may be missing (NaN / <NA>).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

import pandas as pd

BAR_COLUMNS = ["ts", "symbol", "open", "high", "low", "close", "volume", "vwap", "trades"]
PRICE_COLUMNS = ["open", "high", "low", "close"]


class BarSource(Protocol):
    """Anything that yields one session of 1-minute bars for some symbols."""

    name: str

    def fetch(self, symbols: Sequence[str], day: dt.date) -> pd.DataFrame:
        """Bars of `day`'s session for `symbols`, in the `BAR_COLUMNS` schema."""
        ...


def empty_bars() -> pd.DataFrame:
    return conform(pd.DataFrame({c: [] for c in BAR_COLUMNS}))


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Cast a frame to the bar schema's dtypes and order (rows sorted by symbol, ts)."""
    missing = [c for c in BAR_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"bar frame lacks columns {missing}; expected {BAR_COLUMNS}")
    out = df[BAR_COLUMNS].copy()
    ts = pd.to_datetime(out["ts"])
    if ts.dt.tz is None:
        raise ValueError("bar timestamps are naive: localise them to their exchange timezone first")
    out["ts"] = ts.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    out["symbol"] = out["symbol"].astype(str)
    for c in PRICE_COLUMNS + ["vwap"]:
        out[c] = pd.to_numeric(out[c]).astype("float64")
    for c in ("volume", "trades"):  # nullable, so QC can name missing values instead of a cast failing
        out[c] = pd.to_numeric(out[c]).astype("Int64")
    return out.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
