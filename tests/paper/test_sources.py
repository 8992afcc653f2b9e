"""Bar feeds: the accelerated replay clock and REST polling, on fake clocks."""

import pandas as pd
from paper_data import DAY, SYMBOLS, session_bars

from ijules_core import calendar
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.paper.sources import PollingFeed, ReplayFeed
from ijules_core.paper.stream import MINUTE_NS


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_replay_runs_a_market_minute_per_wall_second_at_speed_60():
    bars = session_bars([DAY])
    clock = FakeClock(1000.0)
    feed = ReplayFeed(bars, speed=60, clock=clock, sleep=clock.sleep)
    first = feed.next_minute(timeout_s=0.25)  # the first minute closes one wall second after the open
    assert first is None and clock.t == 1000.25
    while (first := feed.next_minute(timeout_s=0.25)) is None:
        pass
    assert clock.t == 1001.0 and first.ts == calendar.session_open(DAY).value
    assert feed.now_ns() == first.ts + MINUTE_NS
    second = feed.next_minute(timeout_s=5)
    assert second.ts == first.ts + MINUTE_NS and clock.t == 1002.0
    resumed = ReplayFeed(bars, speed=0, start_after_ns=first.ts + 30 * MINUTE_NS)  # a restart after 30 bars
    assert resumed.next_minute(0).ts == first.ts + 30 * MINUTE_NS and len(resumed.minutes) == 390 - 30
    assert len(resumed.history(first.ts + 30 * MINUTE_NS)) == 30 * len(SYMBOLS)  # what it had seen: warm-up


def test_polling_emits_each_closed_minute_once_in_order():
    ten = pd.Timestamp(f"{DAY} 10:00:07", tz=calendar.TZ).timestamp()
    clock = FakeClock(ten)
    feed = PollingFeed(SyntheticSource(), SYMBOLS, DAY, poll_s=15, delay_s=5, clock=clock, sleep=clock.sleep)
    minutes = [feed.next_minute(1.0) for _ in range(30)]
    assert len(minutes) == 30 and all(m is not None for m in minutes)  # 09:30 … 09:59, all closed by 10:00:02
    assert [m.ts for m in minutes] == [calendar.session_open(DAY).value + k * MINUTE_NS for k in range(30)]
    assert feed.next_minute(1.0) is None  # nothing newer yet; waits for the next poll
    clock.t = ten + 60
    fresh = [m for m in (feed.next_minute(20.0) for _ in range(3)) if m is not None]
    assert [m.ts for m in fresh] == [minutes[-1].ts + MINUTE_NS]  # 10:00, closed and settled; 10:01 not yet
    assert not feed.finished
    clock.t = calendar.session_close(DAY).timestamp() + 10
    rest = [m for m in (feed.next_minute(20.0) for _ in range(400)) if m is not None]
    assert rest[-1].ts == calendar.session_close(DAY).value - MINUTE_NS and len(rest) == 390 - 31
    assert feed.finished and feed.now_ns() > calendar.session_close(DAY).value
