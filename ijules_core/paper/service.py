"""The paper-trading service behind `ijules paper`: a long-running process around `PaperTrader`.

It connects the broker (exponential backoff), builds the session's trader from the bar
table's previous sessions (the warm-up) and today's state, then feeds it minutes until
the close — replayed from the bar table at an accelerated clock, or live from IB
real-time bars or Polygon polling. Between minutes it beats (`trading.heartbeats`) and
applies the controls people queue with `ijules halt / flatten / resume`. At the close the
trader closes the session (flat, a report row) and the service idles until the next one;
a replay ends after its day. SIGTERM / SIGINT stop it between minutes, the session left
open for a restart to resume.

Monitoring: Prometheus metrics on 127.0.0.1 (`metrics.py`) and an optional `reporter`
callback told of each session's opening and closing — `ijules paper` passes one that
reports the trading tables to Dagster (ijules_core itself never imports dagster).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, stop_any, stop_never, wait_exponential

from ijules_core import calendar
from ijules_core.costs import CostModel
from ijules_core.paper.metrics import ServiceMetrics
from ijules_core.paper.simvenue import DurableSimBroker
from ijules_core.paper.sources import IBRealTimeFeed, MinuteFeed, PollingFeed, ReplayFeed
from ijules_core.paper.store import TradingStore
from ijules_core.paper.trader import RECONNECTABLE, PaperConfig, PaperTrader
from ijules_core.store.bars import read_bars
from ijules_core.store.db import connect

log = logging.getLogger("ijules.paper")
Reporter = Callable[[str, dict], None]


@dataclass(frozen=True)
class ServiceOptions:
    paper: PaperConfig = field(default_factory=PaperConfig)
    broker: str = "sim"  # sim | ib
    replay: dt.date | None = None  # a day of the bar table; None = live
    speed: float = 60.0  # replay clock: market minutes per wall minute; 0 = as fast as possible
    source: str = "polygon"  # live minutes: ib | polygon
    model: str = "champion"  # champion | a baseline name | a model .zip
    metrics_port: int | None = 9108  # on 127.0.0.1; None = no endpoint
    cash: float = 10_000.0  # first funding of a simulated account
    costs: CostModel = field(default_factory=CostModel)
    reject_rate: float = 0.0  # chaos (sim): share of orders rejected
    disconnect_rate: float = 0.0  # chaos (sim): share of filling bars after which the link drops
    seed: int = 0
    ib_host: str = "127.0.0.1"
    ib_port: int = 7497  # TWS paper; IB Gateway paper is 4002
    ib_client_id: int = 17
    ib_account: str = ""
    heartbeat_s: float = 2.0
    controls_s: float = 0.25  # how often queued controls are read
    reconnect_give_up_s: float = 30.0  # within a session: after this, skip bars and try again at the next
    max_sessions: int | None = None  # live: stop after this many sessions (None: run until stopped)

    def __post_init__(self) -> None:
        if self.broker not in ("sim", "ib") or self.source not in ("ib", "polygon"):
            raise ValueError(f"broker must be sim or ib and source ib or polygon, got {self.broker!r}, {self.source!r}")
        if self.source == "ib" and self.broker != "ib" and self.replay is None:
            raise ValueError("live IB bars come over the IB connection: use --broker ib, or --source polygon")


class Service:
    def __init__(self, options: ServiceOptions, url: str, reporter: Reporter | None = None,
                 cache_dir: str | None = None) -> None:
        self.options, self.url, self.reporter, self.cache_dir = options, url, reporter, cache_dir
        self.stopping = threading.Event()
        self.trader: PaperTrader | None = None
        self.metrics = ServiceMetrics()
        self._ib_feed: IBRealTimeFeed | None = None  # subscribed once, serves every session
        self._beat_at = self._controls_at = 0.0

    def stop(self, *_) -> None:
        self.stopping.set()

    def run(self, handle_signals: bool = True) -> list[dict]:
        """Trade until stopped (live) or until the replayed day is closed; returns the session reports.
        `handle_signals`: SIGTERM / SIGINT stop the service between minutes (off when a host handles them)."""
        o = self.options
        if handle_signals and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        self.store = TradingStore(connect(self.url, autocommit=True))
        if o.metrics_port is not None:
            self.metrics.serve(o.metrics_port)
        self.policy = self._policy()
        self.broker, self.sleep = self._broker()
        self._beat("starting", force=True)
        self.connect_broker(give_up_s=None)
        reports = []
        while not self.stopping.is_set():
            day = o.replay or self._wait_for_session()
            if day is None:
                break
            report = self._session(day)
            if report is not None:
                reports.append(report)
            if o.replay or (o.max_sessions and len(reports) >= o.max_sessions):
                break
        self._beat("stopped", force=True)
        return reports

    # -- one session ---------------------------------------------------------------------------
    def _session(self, day: dt.date) -> dict | None:
        o, store = self.options, self.store
        symbols = list(o.paper.symbols)
        resumed = store.last_snapshot(o.paper.account, f"{o.paper.account}:{day}")
        feed, today = self._feed(day, resumed.ts if resumed else None)
        previous = calendar.previous_sessions(day - dt.timedelta(days=1), o.paper.warmup_sessions)
        history = pd.concat([read_bars(store.conn, symbols, previous[0], previous[-1]), today], ignore_index=True)
        self.trader = trader = PaperTrader(store, self.broker, self.policy, day, o.paper, history, self.metrics,
                                           reconnect=lambda: self.connect_broker(o.reconnect_give_up_s))
        self._report("session_opened", {"session_id": trader.session_id, "day": str(day),
                                        "resumed_at": trader.resume_ts, "policy": self.policy.name})
        log.info("session %s %s (policy %s)", trader.session_id, "resumed" if resumed else "opened", self.policy.name)
        self._beat("trading", force=True)
        while not self.stopping.is_set() and not feed.finished:
            self._apply_controls(feed)
            self._beat("trading")
            minute = feed.next_minute(timeout_s=0.5)
            if minute is not None:
                trader.on_minute(minute, time.perf_counter_ns(), feed.now_ns())
        if not feed.finished:
            return None
        self._apply_controls(feed, force=True)
        report = trader.close()
        self._report("session_closed", {"session_id": trader.session_id, **report})
        log.info("session %s closed: equity %.2f, P&L %+.2f, %d fills, flat %s", trader.session_id,
                 report["equity"], report["pnl"], report["fills"], report["flat"])
        return report

    def _feed(self, day: dt.date, resume_ts: int | None) -> tuple[MinuteFeed, pd.DataFrame]:
        """The session's minutes, and today's bars before them (for the warm-up)."""
        o = self.options
        symbols = list(o.paper.symbols)
        if o.replay:
            bars = read_bars(self.store.conn, symbols, day, day)
            if bars.empty:
                raise ValueError(f"no bars for {day} in the bar table: ingest the day before replaying it")
            feed = ReplayFeed(bars, o.speed, start_after_ns=resume_ts)
            return feed, feed.history(resume_ts or 0)
        if o.source == "ib":
            if self._ib_feed is None:
                self._ib_feed = IBRealTimeFeed(self.broker.ib, self.broker.contracts, day)
            feed = self._ib_feed.for_day(day)
        else:
            from ijules_core.bars.polygon import PolygonSource

            key = os.environ.get("POLYGON_API_KEY")
            if not key:
                raise ValueError("live bars from Polygon need POLYGON_API_KEY in the environment")
            feed = PollingFeed(PolygonSource(key), symbols, day)
        return feed, feed.history(feed.now_ns())

    def _wait_for_session(self, lead: dt.timedelta = dt.timedelta(minutes=30)) -> dt.date | None:
        """Idle (beating) until `lead` before the next session's open; its day, or None when stopped."""
        while not self.stopping.is_set():
            now = pd.Timestamp.now(tz="UTC")
            today = now.tz_convert(calendar.TZ).date()
            day = next(d for d in calendar.sessions(today, today + dt.timedelta(days=10))
                       if calendar.session_close(d) > now)
            opens = calendar.session_open(day)
            if now >= opens - lead:
                return day
            self._beat("idle")
            self.sleep(min(30.0, (opens - lead - now).total_seconds()))
        return None

    # -- controls, heartbeat, reporting --------------------------------------------------------------
    def _apply_controls(self, feed: MinuteFeed, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._controls_at < self.options.controls_s:
            return
        self._controls_at = now
        for control_id, command in self.store.pending_controls(self.options.paper.account):
            result = self.trader.intervene(command, feed.now_ns())
            self.store.mark_control(control_id, result)
            log.warning("control %s: %s", command, result)
            self._beat("trading", force=True)

    def _beat(self, status: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._beat_at < self.options.heartbeat_s:
            return
        self._beat_at = now
        t = self.trader
        self.store.heartbeat(self.options.paper.account, t.session_id if t else None, os.getpid(), status,
                             bool(self.broker.connected),
                             t.governor.state.value if t else None, t.last_ts if t else None)

    def _report(self, event: str, info: dict) -> None:
        if self.reporter is None:
            return
        try:
            self.reporter(event, info)
        except Exception as exc:  # monitoring must never stop trading
            log.warning("reporting %s failed: %s: %s", event, type(exc).__name__, exc)

    # -- construction ---------------------------------------------------------------------------------
    def connect_broker(self, give_up_s: float | None) -> None:
        """Connect with exponential backoff (0.5 s … 30 s), beating 'reconnecting' between attempts; raises the
        last failure after `give_up_s` (None: never gives up, unless the service is stopping)."""
        stop = stop_after_delay(give_up_s) if give_up_s else stop_never
        retrying = Retrying(
            wait=wait_exponential(multiplier=0.5, min=0.5, max=30), sleep=self.sleep, reraise=True,
            stop=stop_any(stop, lambda state: self.stopping.is_set()), retry=retry_if_exception_type(RECONNECTABLE),
            before_sleep=lambda state: (log.warning("broker: %s; retrying", state.outcome.exception()),
                                        self._beat("reconnecting", force=True)))
        try:
            retrying(self.broker.connect)
        except RECONNECTABLE:
            if not self.stopping.is_set():
                raise

    def _broker(self):
        o = self.options
        if o.broker == "sim":
            venue = DurableSimBroker(connect(self.url, autocommit=True), o.paper.account, o.paper.symbols, o.costs,
                                     o.cash, o.reject_rate, seed=o.seed, disconnect_rate=o.disconnect_rate)
            return venue, time.sleep
        from ijules_core.brokers.ib import IBBroker

        broker = IBBroker(o.paper.symbols, o.ib_host, o.ib_port, o.ib_client_id, o.ib_account, costs=o.costs)
        return broker, broker.ib.sleep

    def _policy(self):
        from ijules_core.policy import policy_from_spec

        tracker = None
        if self.options.model == "champion":
            from ijules_core.config import Settings
            from ijules_core.store.db import mlflow_url
            from ijules_core.tracking import Tracker

            tracker = Tracker(mlflow_url(self.url), "ijules", str(Settings.from_env().home / "mlartifacts"))
        return policy_from_spec(self.options.model, tracker, cache_dir=self.cache_dir)
