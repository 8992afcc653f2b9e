"""Features one bar at a time: the live counterpart of `features.MarketData`.

`MarketData.from_bars` computes a whole dataset with pandas (~3 ms per symbol per call),
too slow to rerun on every live bar. `SymbolStream` carries the same recursions and
windows forward one bar at a time in a few µs — pandas' exponential means (adjust=False)
step by step, the rolling windows from the last bars — and `MarketStream` aligns the
symbols, gaps, minutes to the close and the rolling correlation exactly as `MarketData`
does. `tests/paper/test_stream.py` proves both give the same numbers on the same bars.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ijules_core import calendar
from ijules_core.features import CLIP

NY = ZoneInfo(calendar.TZ)
MINUTE_NS = 60_000_000_000
_EMA_ALPHA = 1.0 / (1.0 + (50 - 1) / 2.0)  # pandas' ewm(span=50): com = (span - 1) / 2, alpha = 1 / (1 + com)
_RSI_ALPHA = 1.0 / (1.0 + (1 - 1 / 14) / (1 / 14))  # ewm(alpha=1/14), turned into com and back as pandas does
_CORR_WINDOW, _CORR_MIN = 60, 10  # MarketData.rolling_correlation


class Bar(NamedTuple):
    open: float
    high: float
    low: float
    close: float
    volume: float


class Minute(NamedTuple):
    """The bars of one minute (`ts` = its start, ns UTC); a symbol without a bar that minute is absent."""

    ts: int
    bars: dict[str, Bar]


class Step(NamedTuple):
    """What a decision at the close of a complete minute needs, as `MarketData` has it for bar t."""

    ts: int  # bar start
    opens: dict[str, float]
    closes: dict[str, float]
    features: np.ndarray  # (2 × 12,) float32, symbol by symbol
    minutes_to_close: float
    bar_age_minutes: float  # gap_minutes - 1: minutes without data before this bar
    correlation: float
    day: dt.date


def _ewm(prev: float, x: float, alpha: float) -> float:
    """One step of pandas' exponential mean with adjust=False, in pandas' own arithmetic."""
    if prev == x:
        return prev
    old = 1.0 - alpha
    return (old * prev + alpha * x) / (old + alpha)


def _std(values) -> float:
    n = len(values)
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


class SymbolStream:
    """The 12 features of `features.symbol_features` for one symbol, updated bar by bar."""

    def __init__(self) -> None:
        self.logc: deque[float] = deque(maxlen=61)  # log closes for the 1/5/15/60-bar returns
        self.close20: deque[float] = deque(maxlen=20)
        self.vol20: deque[float] = deque(maxlen=20)
        self.ret30: deque[float] = deque(maxlen=30)
        self.ema = math.nan
        self.gain = math.nan
        self.loss = math.nan

    def update(self, ts: int, bar: Bar) -> list[float]:
        o, h, lo, c, v = bar
        logc, lc = self.logc, math.log(c)
        n = len(logc)
        r1 = lc - logc[-1] if n else math.nan
        f = [100 * r1,
             100 * (lc - logc[-5]) if n >= 5 else math.nan,
             100 * (lc - logc[-15]) if n >= 15 else math.nan,
             100 * (lc - logc[-60]) if n >= 60 else math.nan,
             100 * (h - lo) / c]
        logc.append(lc)
        self.close20.append(c)
        sma = sum(self.close20) / len(self.close20)
        self.ema = c if self.ema != self.ema else _ewm(self.ema, c, _EMA_ALPHA)
        f += [100 * (c / sma - 1), 100 * (c / self.ema - 1)]
        if r1 == r1:
            up, down = max(r1, 0.0), -min(r1, 0.0)
            if self.gain != self.gain:
                self.gain, self.loss = up, down
            else:
                self.gain, self.loss = _ewm(self.gain, up, _RSI_ALPHA), _ewm(self.loss, down, _RSI_ALPHA)
            self.ret30.append(r1)
        total = self.gain + self.loss
        rsi = 100 * self.gain / total if total == total and total != 0 else 50.0
        sd = _std(self.close20) if len(self.close20) >= 2 else math.nan
        self.vol20.append(v)
        f += [(rsi - 50) / 50,
              (c - sma) / (2 * sd) if sd else math.nan,
              math.log1p(v) - math.log1p(sum(self.vol20) / len(self.vol20)),
              100 * _std(self.ret30) if len(self.ret30) >= 2 else math.nan,
              _minutes_since_open(ts) / 390.0]
        return [min(max(x, -CLIP), CLIP) if x == x and abs(x) != math.inf else 0.0 for x in f]


def _minutes_since_open(ts: int) -> float:
    local = dt.datetime.fromtimestamp(ts // 1_000_000_000, NY)
    return local.hour * 60 + local.minute - 570


@lru_cache(maxsize=64)
def _close_ns(day: dt.date) -> int:
    return calendar.session_close(day).value


class MarketStream:
    """Aligned symbols, one minute at a time: a `Step` for each minute every symbol has a bar in.

    As in `MarketData`: each symbol's features run over all of its own bars; a minute some
    symbol lacks is no step, and shows up as the next step's bar age; a new session is no gap;
    the correlation of 1-bar log returns runs over the last 60 aligned bars (≥ 10 needed).
    """

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = list(symbols)
        self.streams = {s: SymbolStream() for s in self.symbols}
        self.last_seen = -1  # last minute updated with
        self.last_ts: int | None = None  # last aligned minute
        self.last_day: dt.date | None = None
        self.last_closes: dict[str, float] | None = None
        self._pairs: deque[tuple[float, float]] = deque(maxlen=_CORR_WINDOW)

    def update(self, minute: Minute) -> Step | None:
        """The step for `minute`, or None: some symbol has no bar in it, or it is not newer than the last."""
        if minute.ts <= self.last_seen:
            return None
        self.last_seen = minute.ts
        feats = {s: self.streams[s].update(minute.ts, bar) for s, bar in minute.bars.items() if s in self.streams}
        if len(feats) < len(self.symbols):
            return None
        ts, bars = minute.ts, minute.bars
        day = dt.datetime.fromtimestamp(ts // 1_000_000_000, NY).date()
        closes = {s: bars[s].close for s in self.symbols}
        gap = 1.0 if day != self.last_day else (ts - self.last_ts) / MINUTE_NS
        if self.last_closes is not None:
            s0, s1 = self.symbols[:2]
            prev = self.last_closes
            self._pairs.append((math.log(closes[s0] / prev[s0]), math.log(closes[s1] / prev[s1])))
        self.last_ts, self.last_day, self.last_closes = ts, day, closes
        features = np.array([x for s in self.symbols for x in feats[s]], dtype=np.float32)
        return Step(ts, {s: bars[s].open for s in self.symbols}, closes, features,
                    (_close_ns(day) - ts) / MINUTE_NS - 1.0, gap - 1.0, self._correlation(), day)

    def _correlation(self) -> float:
        n = len(self._pairs)
        if n < _CORR_MIN:
            return 0.0
        xs, ys = zip(*self._pairs)
        mx, my = sum(xs) / n, sum(ys) / n
        sxy = sum((x - mx) * (y - my) for x, y in self._pairs)
        sxx = sum((x - mx) ** 2 for x in xs)
        syy = sum((y - my) ** 2 for y in ys)
        return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0


def minutes_from_bars(bars: pd.DataFrame) -> list[Minute]:
    """Bars in the bar schema as `Minute`s, oldest first."""
    if bars.empty:
        return []
    ts = bars["ts"].to_numpy("datetime64[ns]").astype(np.int64)
    cols = zip(ts.tolist(), bars["symbol"].tolist(), bars["open"].tolist(), bars["high"].tolist(),
               bars["low"].tolist(), bars["close"].tolist(), bars["volume"].astype("float64").tolist())
    out: dict[int, dict[str, Bar]] = {}
    for t, sym, o, h, lo, c, v in cols:
        out.setdefault(t, {})[sym] = Bar(o, h, lo, c, v)
    return [Minute(t, out[t]) for t in sorted(out)]
