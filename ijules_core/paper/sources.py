"""Where the paper trader's minutes come from: a replay of the bar table, IB real-time bars, or
a vendor's REST aggregates polled.

Every feed answers the same three questions: `next_minute(timeout_s)` — the next closed
minute, or None if none closed within the timeout (so the service can beat and read its
controls meanwhile); `now_ns()` — the market clock, which a replay accelerates; and
`finished` — the session has no more minutes to give. `history(until_ns)` gives today's
bars before a time, for the warm-up after a restart.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import pandas as pd

from ijules_core import calendar
from ijules_core.bars import BAR_COLUMNS, BarSource, conform
from ijules_core.paper.stream import MINUTE_NS, Bar, Minute, minutes_from_bars


class MinuteFeed(Protocol):
    @property
    def finished(self) -> bool: ...

    def next_minute(self, timeout_s: float) -> Minute | None: ...

    def now_ns(self) -> int: ...

    def history(self, until_ns: int) -> pd.DataFrame: ...


class ReplayFeed:
    """One day of the bar table at an accelerated clock: a market minute lasts 60 / `speed` wall
    seconds from the first minute replayed; `speed` 0 replays as fast as the trader takes them."""

    def __init__(self, bars: pd.DataFrame, speed: float = 60.0, start_after_ns: int | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0 (0 = as fast as possible), got {speed}")
        self.bars, self.speed, self.clock, self.sleep = bars, speed, clock, sleep
        self.minutes = [m for m in minutes_from_bars(bars)
                        if start_after_ns is None or m.ts + MINUTE_NS > start_after_ns]
        self._next = 0
        self._anchor: tuple[float, int] | None = None  # (wall clock, market time) when the replay began

    @property
    def finished(self) -> bool:
        return self._next >= len(self.minutes)

    def next_minute(self, timeout_s: float) -> Minute | None:
        if self.finished:
            return None
        minute = self.minutes[self._next]
        if self.speed:
            if self._anchor is None:
                self._anchor = (self.clock(), minute.ts)
            wall, market = self._anchor
            wait = wall + (minute.ts + MINUTE_NS - market) / 1e9 / self.speed - self.clock()
            if wait > 0:
                self.sleep(min(wait, timeout_s))
                if wait > timeout_s:
                    return None
        self._next += 1
        return minute

    def now_ns(self) -> int:
        if self.speed and self._anchor:
            wall, market = self._anchor
            return market + int((self.clock() - wall) * self.speed * 1e9)
        if self._next:  # as fast as possible: the market is at the close of the last minute replayed
            return self.minutes[self._next - 1].ts + MINUTE_NS
        return self.minutes[0].ts if self.minutes else 0

    def history(self, until_ns: int) -> pd.DataFrame:
        """The day's bars whose minute closed by `until_ns` (what a restarted replay had already seen)."""
        ts = self.bars["ts"].to_numpy("datetime64[ns]").astype("int64")
        return self.bars[ts + MINUTE_NS <= until_ns].reset_index(drop=True)


class PollingFeed:
    """A vendor's REST minute aggregates (Polygon, or any `BarSource`) polled every `poll_s`; a minute
    goes out once it closed `delay_s` ago, so the vendor has it complete."""

    def __init__(self, source: BarSource, symbols: Sequence[str], day: dt.date, poll_s: float = 15.0,
                 delay_s: float = 5.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.source, self.symbols, self.day = source, list(symbols), day
        self.poll_s, self.delay_s, self.clock, self.sleep = poll_s, delay_s, clock, sleep
        self.close_ns = calendar.session_close(day).value
        self._queue: list[Minute] = []
        self._last_poll = float("-inf")
        self._last_ts = -1

    @property
    def finished(self) -> bool:
        """Everything handed out, and a poll made once the last minute had settled."""
        return not self._queue and self._last_poll * 1e9 >= self.close_ns + self.delay_s * 1e9

    def now_ns(self) -> int:
        return int(self.clock() * 1e9)

    def _closed(self, until_ns: int) -> pd.DataFrame:
        bars = self.source.fetch(self.symbols, self.day)
        ts = bars["ts"].to_numpy("datetime64[ns]").astype("int64")
        return bars[ts + MINUTE_NS <= until_ns].reset_index(drop=True)

    def history(self, until_ns: int) -> pd.DataFrame:
        return self._closed(until_ns)

    def next_minute(self, timeout_s: float) -> Minute | None:
        if not self._queue:
            wait = self._last_poll + self.poll_s - self.clock()
            if wait > 0:
                self.sleep(min(wait, timeout_s))
                return None
            self._last_poll = self.clock()
            fresh = minutes_from_bars(self._closed(self.now_ns() - int(self.delay_s * 1e9)))
            self._queue = [m for m in fresh if m.ts > self._last_ts]
            if not self._queue:
                return None
        minute = self._queue.pop(0)
        self._last_ts = minute.ts
        return minute


class IBRealTimeFeed:
    """Interactive Brokers' 5-second real-time bars, aggregated to 1-minute bars.

    A symbol's minute is complete when its :55 bar (the minute's last) or any later bar
    arrives; the minute goes out once every symbol completed it, or `grace_s` after it
    ended with the symbols that did (the others show up as a gap). Subscriptions are
    renewed on every (re)connection — IB drops them with the socket — and live as long as
    the feed: one feed serves a service's sessions, `for_day` turns it to the next one.
    """

    def __init__(self, ib, contracts: dict, day: dt.date, grace_s: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.ib, self.contracts, self.grace_s, self.clock = ib, contracts, grace_s, clock
        self.for_day(day)
        ib.connectedEvent += self.subscribe
        if ib.isConnected():
            self.subscribe()

    def for_day(self, day: dt.date) -> IBRealTimeFeed:
        self.day, self.close_ns = day, calendar.session_close(day).value
        self._open: dict[int, dict[str, list]] = {}  # minute → symbol → [o, h, l, c, v, complete]
        self._queue: list[Minute] = []
        self._last_ts = -1
        return self

    def subscribe(self) -> None:
        for symbol, contract in self.contracts.items():
            bars = self.ib.reqRealTimeBars(contract, 5, "TRADES", True)
            bars.updateEvent += lambda bars, has_new, symbol=symbol: self._on_bar(symbol, bars[-1])

    def _on_bar(self, symbol: str, bar) -> None:
        ts = pd.Timestamp(bar.time).value
        minute = ts - ts % MINUTE_NS
        for m, per in self._open.items():  # a later bar completes every earlier minute of the symbol
            if m < minute and symbol in per:
                per[symbol][5] = True
        agg = self._open.setdefault(minute, {}).get(symbol)
        if agg is None:
            self._open[minute][symbol] = [bar.open_, bar.high, bar.low, bar.close, bar.volume, False]
        else:
            agg[1], agg[2] = max(agg[1], bar.high), min(agg[2], bar.low)
            agg[3], agg[4] = bar.close, agg[4] + bar.volume
        if ts - minute >= MINUTE_NS - 5_000_000_000:
            self._open[minute][symbol][5] = True
        self._flush()

    def _flush(self) -> None:
        now = self.now_ns()
        for minute in sorted(self._open):
            per = self._open[minute]
            complete = len(per) == len(self.contracts) and all(a[5] for a in per.values())
            if not complete and now < minute + MINUTE_NS + int(self.grace_s * 1e9):
                break
            del self._open[minute]
            if minute > self._last_ts:
                self._queue.append(Minute(minute, {s: Bar(*a[:5]) for s, a in per.items()}))
                self._last_ts = minute

    @property
    def finished(self) -> bool:
        return not self._queue and self.now_ns() >= self.close_ns + int(self.grace_s * 1e9)

    def now_ns(self) -> int:
        return int(self.clock() * 1e9)

    def next_minute(self, timeout_s: float) -> Minute | None:
        if not self._queue:
            self.ib.sleep(timeout_s)  # runs IB's event loop: bars arrive through `_on_bar`
            self._flush()
        return self._queue.pop(0) if self._queue else None

    def history(self, until_ns: int) -> pd.DataFrame:
        """Today's 1-minute bars from IB's historical data (useRTH, UTC stamps)."""
        frames = []
        for symbol, contract in self.contracts.items():
            bars = self.ib.reqHistoricalData(contract, "", "1 D", "1 min", "TRADES", True, formatDate=2)
            frames += [{"ts": pd.Timestamp(b.date).tz_convert("UTC"), "symbol": symbol, "open": b.open, "high": b.high,
                        "low": b.low, "close": b.close, "volume": int(b.volume), "vwap": b.average,
                        "trades": b.barCount} for b in bars]
        out = conform(pd.DataFrame(frames, columns=BAR_COLUMNS))
        ts = out["ts"].to_numpy("datetime64[ns]").astype("int64")
        return out[(ts + MINUTE_NS <= until_ns) & (out["ts"].dt.tz_convert(calendar.TZ).dt.date == self.day)]
