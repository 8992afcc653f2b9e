"""One paper-trading session of one account, bar by bar, through the shared execution path.

    minute → MarketStream (features) → observation → policy → ExecutionEngine
           (RiskGovernor.review → orders → broker → fills → Portfolio) → trading.* rows

`PaperTrader` is synchronous and has no clock: `on_minute` for every bar, `intervene` for
a person's command, `close` at the end of the session. The service (`service.py`) feeds it
from a bar source and keeps the broker connected; a test or the backtester's parity check
feeds it replayed minutes directly. The order of engine calls is the backtest's: fills at
a bar's open, then the decision at its close; orders still open after the last bar fill at
its closing print (a simulated venue) or are cancelled (a real one).

Restart: the constructor finds today's session if there is one, rebuilds the book from its
fills, the governor from the account's last snapshot, and a recurrent policy's memory by
replaying the observations of the day's decisions; then it reconciles with the broker —
fills it missed are booked, orders it never sent are closed, the engine adopts the
broker's open orders, a position the broker holds differently is adjusted to the broker's
and said so. A bar that was not completed before a crash is decided again: the same
decision, so the same client order ids, which the broker answers with the orders it has.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from ijules_core import calendar
from ijules_core.brokers.base import BrokerError
from ijules_core.env import MINUTE_NS, flat_observations, observation
from ijules_core.execution import ExecutionConfig, ExecutionEngine
from ijules_core.orders import OPEN, Fill, Order, OrderStatus
from ijules_core.paper.journal import JournaledBroker
from ijules_core.paper.metrics import ServiceMetrics
from ijules_core.paper.store import Decision, Snapshot, TradingStore
from ijules_core.paper.stream import MarketStream, Minute, minutes_from_bars
from ijules_core.policy import HOLD, Policy
from ijules_core.portfolio import Portfolio
from ijules_core.risk import RiskConfig, RiskEvent, RiskGovernor


RECONNECTABLE = (BrokerError, ConnectionError, OSError, TimeoutError)  # what a broker link failure raises


@dataclass(frozen=True)
class PaperConfig:
    account: str = "paper"
    symbols: tuple[str, ...] = ("NVDA", "MSFT")
    risk: RiskConfig = field(default_factory=RiskConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    warmup_sessions: int = 2  # previous sessions that warm the features up (a backtest window's leading days)

    def __post_init__(self) -> None:
        if not self.account or "-" in self.account or ":" in self.account:
            raise ValueError(f"account {self.account!r}: use a non-empty name without '-' or ':' "
                             "(it prefixes client order ids and names sessions)")


class PaperTrader:
    def __init__(self, store: TradingStore, broker, policy: Policy, day: dt.date, config: PaperConfig,
                 history: pd.DataFrame, metrics: ServiceMetrics | None = None,
                 reconnect: Callable[[], None] | None = None) -> None:
        """`history`: bars before the first minute this trader will be fed — the previous sessions, and
        today's bars up to where a restarted session resumes (or up to now, live). `reconnect` brings
        a dropped broker link back (the service's backoff); by default one `broker.connect()`."""
        symbols = list(config.symbols)
        self.store, self.policy, self.day, self.config, self.metrics = store, policy, day, config, metrics
        self.symbols, self.account = symbols, config.account
        self.reconnect = reconnect or broker.connect
        self.stream = MarketStream(symbols)
        for minute in minutes_from_bars(history):
            self.stream.update(minute)
        if self.stream.last_closes is None:
            raise ValueError(f"no bars to warm up from before {day}: ingest the previous sessions first")
        self.session_id = f"{config.account}:{day}"
        resumed = store.last_snapshot(config.account, self.session_id)
        self.resume_ts = resumed.ts if resumed else None  # the last bar completed before a restart
        held = broker.positions()  # a new session starts with the broker's cash and positions at the last close
        start_cash = broker.account().cash + sum(held.get(s, 0) * self.stream.last_closes[s] for s in symbols)
        self.session = store.open_session(config.account, day, broker.name, policy.name, symbols, start_cash,
                                          config.risk)
        self.broker = broker
        self.portfolio = Portfolio(symbols, self.session.start_cash)
        for fill in store.fills(self.session_id):
            self.portfolio.apply_fill(fill)
        self.governor = RiskGovernor(config.risk, symbols)
        last = store.last_snapshot(config.account)
        if last:
            self.governor.restore(last.governor)
        self.journal = JournaledBroker(broker, store, config.account, self.session_id)
        self.engine = ExecutionEngine(symbols, self.journal, self.portfolio, self.governor, config.execution,
                                      id_prefix=config.account)
        self.policy.reset()
        if resumed:
            for obs in store.observations(self.session_id, resumed.ts):
                self.policy.act(obs)
        self._started = resumed is not None
        self._pos_scale = 1.0 / config.execution.max_shares
        self._saved_events = 0
        self._notes: list[RiskEvent] = []  # the service's own events (reconciliation, session), persisted with the bar
        self.last_ts = resumed.ts if resumed else None  # last decision time
        self.decisions: list[tuple[int, int, float]] = []  # (ts, action, confidence) decided by this process
        # orders of the bar a crash interrupted are not adopted: deciding that bar again sends them again,
        # and the broker answers with the orders it has
        self.reconcile(self.last_ts or calendar.session_open(day).value, adopt_until=self.resume_ts or -1)
        self._publish(self.stream.last_closes, [])

    # -- the bar loop ---------------------------------------------------------------------------
    def on_minute(self, minute: Minute, received_ns: int | None = None,
                  now_ns: int | None = None) -> tuple[Order, ...] | None:
        """A closed minute: book fills at its open, decide at its close. None when there is nothing to
        decide (a minute seen already, or one some symbol has no bar in). `received_ns`: when it came in
        (perf_counter, for the latency); `now_ns`: the market clock then — a bar that arrives late is as
        stale, for the governor, as one that follows a gap."""
        t_in = received_ns or time.perf_counter_ns()  # "bar in" for the decision latency
        step = self.stream.update(minute)
        if step is None:
            return None
        portfolio, governor, engine = self.portfolio, self.governor, self.engine
        if not self._started:
            governor.start_session(step.ts, portfolio.equity(step.closes))
            self._started = True
        fills = engine.on_bar(step.ts, step.opens)
        decided_at = step.ts + MINUTE_NS
        if not self.broker.connected and not self.recover(decided_at):
            self._complete(decided_at, step.closes, fills)
            return None
        obs = observation(flat_observations(step.features), portfolio.quantities().values(), self._pos_scale)
        action, confidence = self.policy.act(obs)
        policy_ms = (time.perf_counter_ns() - t_in) / 1e6
        decision = self.journal.decision = Decision(decided_at, "policy", action, confidence, obs, policy_ms)
        try:
            age = max(step.bar_age_minutes, (now_ns - decided_at) / MINUTE_NS) if now_ns else step.bar_age_minutes
            orders = engine.decide(decided_at, action, step.closes, step.minutes_to_close, age, policy_ms,
                                   step.correlation)
        except BrokerError as exc:  # the link dropped while sending: reconciliation finds out what was sent
            self._note(decided_at, "reconcile", f"broker error while sending: {exc}")
            self.recover(decided_at)
            orders = ()
        latency_ms = (time.perf_counter_ns() - t_in) / 1e6
        self.decisions.append((decided_at, action, confidence))
        self.last_ts = decided_at
        self._complete(decided_at, step.closes, fills, orders, decision._replace(latency_ms=latency_ms,
                                                                                  orders=len(orders)))
        if self.metrics:
            self.metrics.decision_latency.observe(latency_ms / 1e3)
            self.metrics.confidence.set(confidence)
        return orders

    def intervene(self, command: str, ts: int) -> str:
        """A person's command, applied now: `halt` (kill switch), `flatten` (stand aside for the session), `resume`."""
        governor, engine = self.governor, self.engine
        if command == "resume":
            governor.reset(ts)
            self._complete(ts, self.stream.last_closes, [])
            return "resumed: governor ACTIVE"
        if command == "halt":
            governor.halt(ts, "kill switch (ijules halt)")
        elif command == "flatten":
            governor.stand_aside(ts, "flatten requested (ijules flatten): no new positions this session")
        else:
            raise ValueError(f"unknown command {command!r}")
        ts = max(ts // 1_000 * 1_000, (self.last_ts or 0) + 1_000)  # a fresh decision time, in µs as stored
        if not self.broker.connected:
            self._complete(ts, self.stream.last_closes, [])
            return f"{command}: governor {governor.state}; broker disconnected, orders go out on reconnection"
        engine.cancel_open_orders()
        decision = self.journal.decision = Decision(ts, command, HOLD)
        orders = engine.decide(ts, HOLD, self.stream.last_closes, self._minutes_to_close(ts))
        self.last_ts = ts
        self._complete(ts, self.stream.last_closes, [], orders, decision._replace(orders=len(orders)))
        return f"{command}: governor {governor.state}, {len(orders)} order(s) to flatten"

    def close(self) -> dict:
        """The end of the session: what is still open fills at the last close (sim) or is cancelled; the report."""
        engine, ts, prices = self.engine, self.last_ts or self.stream.last_ts + MINUTE_NS, self.stream.last_closes
        fills = engine.on_bar(ts, prices) if engine.open_orders and self.broker.connected else []
        if engine.open_orders:
            engine.cancel_open_orders()
        if not self.portfolio.is_flat():
            self._note(ts, "session", "not flat at the close", detail=str(self.portfolio.quantities()))
        self._complete(ts, prices, fills)
        report = self.report()
        self.store.close_session(self.session_id, report)
        return report

    # -- recovery -------------------------------------------------------------------------------
    def recover(self, ts: int) -> bool:
        """The broker link dropped: governor REDUCING, reconnect, reconcile, back. False if it stays down."""
        self.governor.broker_disconnected(ts)
        if self.metrics:
            self.metrics.broker_connected.set(0)
        try:
            self.reconnect()
        except RECONNECTABLE as exc:
            self._note(ts, "reconcile", f"broker still disconnected: {type(exc).__name__}: {exc}")
            return False
        self.reconcile(ts)
        self.governor.broker_reconnected(ts)
        return True

    def reconcile(self, ts: int, adopt_until: int | None = None) -> None:
        """Make the book agree with the broker: its executions, its orders (the engine adopts the open ones
        created by `adopt_until`, default `ts`), its positions."""
        broker, store, engine = self.broker, self.store, self.engine
        day_start = pd.Timestamp(self.day, tz=calendar.TZ).value
        missed = [f for f in broker.executions(day_start) if f.symbol in self.portfolio.positions]
        booked = store.record_fills(self.account, self.session_id, missed, "reconcile")
        for fill in booked:
            self.portfolio.apply_fill(fill)
        if booked:
            self._note(ts, "reconcile", f"booked {len(booked)} fill(s) the service had not seen",
                       detail=", ".join(f.exec_id for f in booked))
        known, ours = broker.orders, store.session_orders(self.session_id)
        store.mark_orders([c for c, status in ours.items() if status in OPEN and c not in known],
                          OrderStatus.CANCELLED, "never reached the broker")
        mine = [known[c] for c in ours if c in known]
        store.update_orders(mine)
        adopt_until = ts if adopt_until is None else adopt_until
        adopted = [o for o in mine if o.is_open and o.created_ts <= adopt_until]
        held, theirs = self.portfolio.quantities(), broker.positions()
        adjust = [Fill("", s, theirs.get(s, 0) - q, self.stream.last_closes[s], 0.0, ts, f"adjust-{s}-{ts}")
                  for s, q in held.items() if theirs.get(s, 0) != q]
        for fill in store.record_fills(self.account, self.session_id, adjust, "adjust"):
            self.portfolio.apply_fill(fill)
            self._note(ts, "reconcile", "position adjusted to the broker's", fill.symbol,
                       f"held {held[fill.symbol]}, broker {theirs.get(fill.symbol, 0)}")
        engine.adopt(adopted)  # after the adjustments: the working position counts them and the orders
        if self.metrics and booked:
            self.metrics.trades.inc(len(booked))

    # -- bookkeeping ----------------------------------------------------------------------------
    def _note(self, ts: int, kind: str, reason: str, symbol: str | None = None, detail: str = "") -> None:
        self._notes.append(RiskEvent(ts, kind, reason, symbol, detail))

    def _minutes_to_close(self, ts: int) -> float:
        return (calendar.session_close(self.day).value - ts) / MINUTE_NS

    def _complete(self, ts: int, prices: dict[str, float], fills: Sequence[Fill], sent: Sequence[Order] = (),
                  decision: Decision | None = None) -> None:
        """Persist what this bar changed (one transaction), then publish it."""
        portfolio, governor, engine = self.portfolio, self.governor, self.engine
        equity = portfolio.equity(prices)
        start = governor.session_start_equity
        snap = Snapshot(ts, portfolio.cash, equity, equity - start if start == start else 0.0,
                        max(governor.peak_equity - equity, 0.0), portfolio.quantities(), dict(engine.working),
                        dict(prices), governor.snapshot())
        orders = self.broker.orders
        touched = {o.client_order_id: o for o in (*sent, *engine.open_orders)}
        touched.update((f.client_order_id, orders[f.client_order_id]) for f in fills if f.client_order_id in orders)
        events = governor.events[self._saved_events:] + self._notes
        self.store.end_bar(self.session_id, snap, list(touched.values()), events, decision)
        self.journal.decision = None
        self._saved_events, self._notes = len(governor.events), []
        self._publish(prices, fills)

    def _publish(self, prices: dict[str, float], fills: Sequence[Fill]) -> None:
        m = self.metrics
        if m is None:
            return
        portfolio, governor = self.portfolio, self.governor
        equity = portfolio.equity(prices)
        start = governor.session_start_equity
        m.observe_portfolio(equity, portfolio.cash, equity - start if start == start else 0.0,
                            max(governor.peak_equity - equity, 0.0), portfolio.quantities(), prices)
        m.observe_governor(governor.state.value, governor.refusals)
        m.broker_connected.set(1 if self.broker.connected else 0)
        m.trades.inc(len(fills))
        if self.last_ts:
            m.last_bar.set(self.last_ts / 1e9)

    def report(self) -> dict:
        """The session in numbers: the `report` of its `trading.sessions` row."""
        prices, pf = self.stream.last_closes, self.portfolio
        equity = pf.equity(prices)
        return {"day": str(self.day), "account": self.account, "policy": self.policy.name,
                "start_cash": self.session.start_cash, "equity": equity, "pnl": equity - self.session.start_cash,
                "fees": pf.fees, "traded_value": pf.traded_value, **self.store.session_counts(self.session_id),
                "flat": pf.is_flat(), "positions": pf.quantities(), "governor": self.governor.state.value,
                "pnl_by_symbol": {s: v["net"] for s, v in pf.pnl(prices).items()}}
