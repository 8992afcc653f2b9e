"""Features from closed bars, computed once for a whole dataset into float32 arrays.

`MarketData.from_bars` aligns the symbols on a common minute grid and precomputes
everything a step needs — prices, the 12 features per symbol, the session of each bar and
the minutes left to its close — so the environment, the backtester and the paper trader
index arrays instead of touching pandas. Every feature at bar t reads bars ≤ t only
(rolling windows and EWMs are causal); a test proves it by changing the future. Windows
run across session boundaries, so the first bars of a day carry the overnight move; the
first 60 bars of a dataset have partial windows (0 where a feature is still undefined).

Features (FEATURE_NAMES; returns, range and deviations in percent; all clipped to ±CLIP):
 0 ret_1       log return over 1 bar           6 ema_dev_50     close / EMA(50) − 1
 1 ret_5       log return over 5 bars          7 rsi_14         (Wilder RSI(14) − 50) / 50
 2 ret_15      log return over 15 bars         8 boll_pos       (close − SMA20) / (2 σ20)
 3 ret_60      log return over 60 bars         9 log_vol_ratio  log((v + 1) / (SMA20(v) + 1))
 4 range       (high − low) / close           10 rvol_30        σ of 1-bar returns over 30 bars
 5 sma_dev_20  close / SMA(20) − 1            11 time_of_day    minutes since 09:30 ET / 390
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ijules_core import calendar

FEATURE_NAMES = (
    "ret_1", "ret_5", "ret_15", "ret_60", "range", "sma_dev_20",
    "ema_dev_50", "rsi_14", "boll_pos", "log_vol_ratio", "rvol_30", "time_of_day",
)
N_FEATURES = len(FEATURE_NAMES)
CLIP = 10.0


def symbol_features(bars: pd.DataFrame) -> np.ndarray:
    """(T, 12) float32 features of one symbol's bars (sorted by ts, columns of the bar schema)."""
    close = bars["close"].astype("float64")
    logc = np.log(close)
    r1 = logc.diff()
    sma20 = close.rolling(20, min_periods=1).mean()
    sd20 = close.rolling(20, min_periods=2).std()
    ema50 = close.ewm(span=50, adjust=False).mean()
    gain = r1.clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean()
    loss = (-r1.clip(upper=0)).ewm(alpha=1 / 14, adjust=False).mean()
    rsi = 100 * gain / (gain + loss).replace(0, np.nan)  # Wilder's RSI; NaN (→ neutral) only on a flat window
    vol = bars["volume"].astype("float64")
    ny = bars["ts"].dt.tz_convert(calendar.TZ)
    minutes = (ny.dt.hour * 60 + ny.dt.minute - 570).to_numpy()
    cols = [
        100 * r1,
        100 * logc.diff(5),
        100 * logc.diff(15),
        100 * logc.diff(60),
        100 * (bars["high"] - bars["low"]) / close,
        100 * (close / sma20 - 1),
        100 * (close / ema50 - 1),
        (rsi.fillna(50) - 50) / 50,
        (close - sma20) / (2 * sd20.replace(0, np.nan)),
        np.log1p(vol) - np.log1p(vol.rolling(20, min_periods=1).mean()),
        100 * r1.rolling(30, min_periods=2).std(),
        pd.Series(minutes / 390.0, index=bars.index),
    ]
    out = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])
    out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)  # warm-up rows
    return np.clip(out, -CLIP, CLIP).astype(np.float32)


@dataclass(frozen=True)
class MarketData:
    """Aligned arrays for S symbols over T bars (regular-session minutes)."""

    symbols: tuple[str, ...]
    ts: np.ndarray  # (T,) int64 ns since epoch, bar START
    open: np.ndarray  # (T, S) float64
    close: np.ndarray  # (T, S) float64
    features: np.ndarray  # (T, S, 12) float32
    session: np.ndarray  # (T,) int32: index into `days`
    days: tuple  # session dates
    minutes_to_close: np.ndarray  # (T,) float64: minutes from this bar's close to the session close
    gap_minutes: np.ndarray  # (T,) float64: minutes since the previous bar of the session (1 = none missing)

    def __post_init__(self) -> None:
        """Every consumer indexes these arrays without checking: check once, then freeze them."""
        n, s = len(self.ts), len(self.symbols)
        shapes = {"open": (n, s), "close": (n, s), "features": (n, s, N_FEATURES), "session": (n,),
                  "minutes_to_close": (n,), "gap_minutes": (n,)}
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"MarketData.{name} has shape {getattr(self, name).shape}, expected {shape}")
        for name in ("open", "close"):
            bad = ~(np.isfinite(getattr(self, name)) & (getattr(self, name) > 0))
            if bad.any():
                t, k = np.argwhere(bad)[0]
                raise ValueError(f"MarketData.{name}: bad price for {self.symbols[k]} at "
                                 f"{pd.Timestamp(self.ts[t], tz='UTC')}: prices must be finite and > 0")
        if not np.isfinite(self.features).all():
            t, k, f = np.argwhere(~np.isfinite(self.features))[0]
            raise ValueError(f"MarketData.features: {FEATURE_NAMES[f]} of {self.symbols[k]} at "
                             f"{pd.Timestamp(self.ts[t], tz='UTC')} is not finite")
        for name in shapes | {"ts": None}:
            getattr(self, name).flags.writeable = False

    @property
    def n_bars(self) -> int:
        return len(self.ts)

    @classmethod
    def from_bars(cls, bars: pd.DataFrame, symbols: Sequence[str]) -> "MarketData":
        """Align `symbols` on the minutes every one of them has; validate the bars first.

        A minute one symbol lacks is dropped for all, and shows up as `gap_minutes` > 1 on the
        next bar. The env and the backtester pass `gap_minutes − 1` to the governor as the
        bar's age: a gap longer than `RiskConfig.stale_minutes` only lets positions shrink.
        """
        symbols = tuple(symbols)
        if bars.empty:
            raise ValueError("no bars: nothing to build market data from")
        missing = sorted(set(symbols) - set(bars["symbol"]))
        if missing:
            raise ValueError(f"no bars for symbol(s) {missing}")
        prices = bars[["open", "high", "low", "close"]].to_numpy(np.float64)
        volume = bars["volume"].to_numpy(np.float64, na_value=np.nan)
        checks = (
            ("bad price", ~np.isfinite(prices).all(axis=1) | (prices <= 0).any(axis=1),
             "prices must be finite and > 0"),
            ("bad volume", ~(volume >= 0), "volume must be present and >= 0"),
            ("duplicate bar", bars.duplicated(["symbol", "ts"]).to_numpy(), "one bar per symbol and minute"),
        )
        for what, bad, rule in checks:
            if bad.any():
                row = bars[bad].iloc[0]
                raise ValueError(f"{what} for {row['symbol']} at {row['ts']}: {rule} "
                                 f"({int(bad.sum())} such bar(s)); re-ingest the day or let QC block it")
        per = {s: bars[bars["symbol"] == s].sort_values("ts").reset_index(drop=True) for s in symbols}
        feats = {s: pd.DataFrame(symbol_features(df), index=df["ts"]) for s, df in per.items()}
        common = per[symbols[0]]["ts"]
        for s in symbols[1:]:
            common = common[common.isin(per[s]["ts"])]
        common = pd.DatetimeIndex(common)
        opens = np.column_stack([per[s].set_index("ts").loc[common, "open"].to_numpy(np.float64) for s in symbols])
        closes = np.column_stack([per[s].set_index("ts").loc[common, "close"].to_numpy(np.float64) for s in symbols])
        features = np.stack([feats[s].loc[common].to_numpy(np.float32) for s in symbols], axis=1)
        ny_day = common.tz_convert(calendar.TZ).normalize().tz_localize(None)
        days = tuple(pd.unique(ny_day.date))
        session = pd.Index(days).get_indexer(ny_day.date).astype(np.int32)
        close_of = {d: calendar.session_close(d) for d in days}
        closes_ts = pd.DatetimeIndex([close_of[d] for d in ny_day.date])
        minutes_to_close = ((closes_ts - common).total_seconds() / 60.0 - 1.0).to_numpy(np.float64)
        ts = common.as_unit("ns").asi8
        gap = np.r_[1.0, np.diff(ts) / 60e9]
        gap[np.r_[True, session[1:] != session[:-1]]] = 1.0  # a new session is no gap
        return cls(symbols, ts, opens, closes, features, session, days, minutes_to_close, gap)

    def session_bounds(self) -> list[tuple[int, int]]:
        """[start, end) bar indices of each session."""
        edges = np.flatnonzero(np.r_[True, self.session[1:] != self.session[:-1], True])
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

    def rolling_correlation(self, window: int = 60) -> np.ndarray:
        """(T,) causal correlation of the first two symbols' 1-bar returns (0 where undefined)."""
        if len(self.symbols) < 2:
            return np.zeros(self.n_bars)
        r = pd.DataFrame(np.diff(np.log(self.close[:, :2]), axis=0, prepend=np.nan))
        corr = r[0].rolling(window, min_periods=10).corr(r[1])
        return np.nan_to_num(corr.to_numpy(), nan=0.0)
