"""The risk governor: one object between every decision and every order.

States (NautilusTrader's RiskEngine): ACTIVE trades freely; REDUCING lets through only
orders that shrink positions; HALTED flattens, then lets nothing through. Three layers
review each set of proposed target positions, in this order:

- production: kill switch → HALTED; a person's "flatten" → HALTED for the rest of the session
  (`stand_aside`); the broker link down → REDUCING until it is back; from `flatten_minutes`
  before the close (15:55 ET, 12:55 on early closes) every target is 0; in the last
  `no_new_minutes` only reductions; stale data (`bar_age_minutes` > `stale_minutes`: live,
  the newest bar is that old; in a replay, that many minutes of bars are missing before this
  one) or a slow decision (> `max_latency_ms`) reduce for that decision, as in REDUCING;
  order-rate caps per minute and per day, keeping enough of the daily budget in reserve to
  flatten every open symbol at the close.
- loss: daily loss ≥ `reduce_at` × `daily_loss_limit` → REDUCING, back to ACTIVE only once it
  recovers to `resume_at` × the limit (hysteresis, so the state does not flicker around a
  threshold); daily loss ≥ the limit → HALTED for the rest of the session; drawdown from
  the equity peak ≥ `max_drawdown` → HALTED until `reset()` (a person decides).
- position: |target| × price ≤ `max_notional` per symbol and Σ ≤ `max_gross`, both scaled
  by `corr_scale` when the symbols' rolling correlation exceeds `corr_threshold`.

Every refusal or state change is a `RiskEvent` with its reason, kept in `events`. The same
refusal (reason, symbol and outcome) repeated bar after bar is recorded once per session
and state — a halted book is refused every minute — while `refusals` counts them all.
A running service carries the state and counters across a restart with `snapshot` / `restore`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import NamedTuple


class GovernorState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


ACTIVE, REDUCING, HALTED = GovernorState  # module names: an enum's class attribute costs ~90 ns a lookup


@dataclass(frozen=True)
class RiskConfig:
    max_notional: float = 1_000.0  # per symbol, dollars
    max_gross: float = 2_000.0
    corr_threshold: float = 0.8
    corr_scale: float = 0.5
    daily_loss_limit: float = 50.0
    reduce_at: float = 0.8  # share of the daily loss limit that starts REDUCING
    resume_at: float = 0.5  # ... and the share below which it is ACTIVE again
    max_drawdown: float = 100.0
    flatten_minutes: float = 5.0
    no_new_minutes: float = 15.0
    max_orders_per_day: int = 50
    max_orders_per_minute: int = 4
    stale_minutes: float = 3.0
    max_latency_ms: float = 1_000.0
    long_only: bool = False

    def __post_init__(self) -> None:
        bad = [f.name for f in fields(self) if not isinstance(getattr(self, f.name), bool) and getattr(self, f.name) < 0]
        if bad:
            raise ValueError(f"RiskConfig: {', '.join(bad)} must be >= 0 (a negative limit means nothing)")
        if not 0 < self.resume_at < self.reduce_at <= 1:
            raise ValueError("RiskConfig: need 0 < resume_at < reduce_at <= 1 for the loss hysteresis")
        if not 0 < self.corr_scale <= 1:
            raise ValueError("RiskConfig: corr_scale must be in (0, 1]")
        if self.flatten_minutes > self.no_new_minutes:
            raise ValueError("RiskConfig: flatten_minutes must not exceed no_new_minutes")


class RiskEvent(NamedTuple):
    """A refusal or a state change, with why: what the audit trail and the reports show."""

    ts: int  # ns since epoch, UTC
    kind: str  # refusal | state
    reason: str
    symbol: str | None = None
    detail: str = ""


class RiskGovernor:
    """Reviews every set of target positions (`review`); `start_session` each day, `halt`/`reset` by hand."""

    def __init__(self, config: RiskConfig, symbols: list[str]) -> None:
        if config.max_orders_per_minute < len(symbols) or config.max_orders_per_day < len(symbols):
            raise ValueError(f"RiskConfig: order caps must allow flattening all {len(symbols)} symbols at once")
        self.config = config
        self.symbols = list(symbols)
        self.state = ACTIVE
        self.kill_switch = False
        self.events: list[RiskEvent] = []
        self.refusals = 0  # every refused target, recorded as an event or not
        self.session_start_equity = float("nan")
        self.peak_equity = float("-inf")
        self.orders_today = 0
        self.orders_this_minute = 0
        self._minute = -1
        self._drawdown_halt = False
        self.link_down = False  # the broker link is down: no new risk until it is back
        self._state_before_link_down = ACTIVE
        self._recorded: dict[tuple[str, str], int] = {}  # (reason, symbol) -> allowed target last recorded
        self._reduce_loss = config.reduce_at * config.daily_loss_limit  # the loss layer's thresholds, in dollars
        self._resume_loss = config.resume_at * config.daily_loss_limit

    # -- lifecycle -------------------------------------------------------------------------
    def start_session(self, ts: int, equity: float) -> None:
        """A new trading day: loss and order counters restart; a drawdown halt does not."""
        self.session_start_equity = equity
        self.peak_equity = max(self.peak_equity, equity)
        self.orders_today = 0
        self.orders_this_minute = 0
        self._recorded.clear()
        if self.state is not ACTIVE and not self._drawdown_halt and not self.kill_switch:
            self._set(ACTIVE, ts, "new session")

    def reset(self, ts: int) -> None:
        """A person clears a drawdown halt or the kill switch; the drawdown is measured afresh from here."""
        self._drawdown_halt = False
        self.kill_switch = False
        self.peak_equity = float("-inf")
        self._set(ACTIVE, ts, "manual reset")

    def halt(self, ts: int, reason: str = "kill switch") -> None:
        """The manual kill switch: flatten, then refuse everything until `reset`."""
        self.kill_switch = True
        self._set(HALTED, ts, reason)

    def stand_aside(self, ts: int, reason: str) -> None:
        """Flatten and trade no more this session; `start_session` lifts it (the kill switch it does not)."""
        self._set(HALTED, ts, reason)

    def broker_disconnected(self, ts: int, reason: str = "broker disconnected") -> None:
        if not self.link_down:
            self.link_down, self._state_before_link_down = True, self.state
        if self.state is ACTIVE:
            self._set(REDUCING, ts, reason)

    def broker_reconnected(self, ts: int) -> None:
        """Back to the state the link took it from; the loss layer judges again at the next review."""
        was_down, self.link_down = self.link_down, False
        if was_down and self.state is REDUCING and self._state_before_link_down is ACTIVE:
            self._set(ACTIVE, ts, "broker reconnected and reconciled")

    def snapshot(self) -> dict:
        """State and counters as JSON (non-finite numbers as null); the event history is persisted apart."""
        return {"state": self.state.value, "kill_switch": self.kill_switch, "drawdown_halt": self._drawdown_halt,
                "link_down": self.link_down, "before_link_down": self._state_before_link_down.value,
                "session_start_equity": _finite(self.session_start_equity), "peak_equity": _finite(self.peak_equity),
                "orders_today": self.orders_today, "orders_this_minute": self.orders_this_minute,
                "minute": self._minute, "refusals": self.refusals}

    def restore(self, snap: dict) -> None:
        self.state = GovernorState(snap["state"])
        self.kill_switch, self._drawdown_halt = snap["kill_switch"], snap["drawdown_halt"]
        self.link_down, self._state_before_link_down = snap["link_down"], GovernorState(snap["before_link_down"])
        start, peak = snap["session_start_equity"], snap["peak_equity"]
        self.session_start_equity = math.nan if start is None else start
        self.peak_equity = -math.inf if peak is None else peak
        self.orders_today, self.orders_this_minute = snap["orders_today"], snap["orders_this_minute"]
        self._minute, self.refusals = snap["minute"], snap["refusals"]

    def _set(self, state: GovernorState, ts: int, reason: str) -> None:
        if state is ACTIVE and self.link_down:  # no new risk while the broker link is down
            state, reason = REDUCING, f"{reason}; broker still disconnected"
        if state is not self.state:
            self._recorded.clear()  # a new state: its refusals are news again
            self.events.append(RiskEvent(ts, "state", reason, None, f"{self.state} -> {state}"))
            self.state = state

    def _refuse(self, ts: int, reason: str, symbol: str, target: int, allowed: int) -> None:
        self.refusals += 1
        key = (reason, symbol)
        if self._recorded.get(key) != allowed:
            self._recorded[key] = allowed
            self.events.append(RiskEvent(ts, "refusal", reason, symbol, f"target {target} -> {allowed}"))

    # -- the review ------------------------------------------------------------------------
    def review(
        self,
        ts: int,
        targets: Mapping[str, int],
        positions: Mapping[str, int],
        prices: Mapping[str, float],
        equity: float,
        minutes_to_close: float,
        bar_age_minutes: float = 0.0,
        latency_ms: float = 0.0,
        correlation: float = 0.0,
    ) -> Mapping[str, int]:
        """The targets the governor allows, given the proposal and the current state of things.

        `positions` is what the book will hold once open orders fill; `equity` is its value at
        `prices`. Never modifies its arguments: when nothing may change, `positions` itself is
        returned (the common case, kept cheap), otherwise a new dict.
        """
        c = self.config
        if self.session_start_equity != self.session_start_equity:  # NaN: first review of a session
            self.start_session(ts, equity)
        # the loss layer: the day's loss and the drawdown move the state (hysteresis: see the module)
        if equity > self.peak_equity:
            self.peak_equity = equity
        state = self.state
        if state is not HALTED:
            drawdown = self.peak_equity - equity
            loss = self.session_start_equity - equity
            if drawdown >= c.max_drawdown:
                self._drawdown_halt = True
                self._set(HALTED, ts, f"drawdown {drawdown:.2f} >= {c.max_drawdown}")
            elif loss >= c.daily_loss_limit:
                self._set(HALTED, ts, f"daily loss {loss:.2f} >= {c.daily_loss_limit}")
            elif loss >= self._reduce_loss:
                if state is ACTIVE:
                    self._set(REDUCING, ts, f"daily loss {loss:.2f} >= {c.reduce_at:.0%} of the limit")
            elif state is REDUCING and loss <= self._resume_loss:
                self._set(ACTIVE, ts, f"daily loss back to {loss:.2f}")
            state = self.state
        # what this decision may do at all: flatten, only shrink (reason given), or anything
        flatten = False
        if state is HALTED:
            reason, flatten = "halted", True
        elif minutes_to_close <= c.flatten_minutes:
            reason, flatten = "flatten before the close", True
        elif minutes_to_close <= c.no_new_minutes:
            reason = "no new positions near the close"
        elif bar_age_minutes > c.stale_minutes:
            reason = f"stale data: no bar for {bar_age_minutes:.0f} min"
        elif latency_ms > c.max_latency_ms:
            reason = f"slow decision: {latency_ms:.0f} ms"
        elif state is REDUCING:
            reason = "reducing"
        else:
            reason = ""
        if (reason or targets == positions) and not any(positions.values()):  # flat, and staying flat
            for s, q in targets.items():
                if q:
                    self._refuse(ts, reason, s, q, 0)
            return positions
        out = dict(targets)
        if reason:
            for s, q in out.items():
                allowed = 0 if flatten else _toward_zero(q, positions[s])
                if allowed != q:
                    self._refuse(ts, reason, s, q, allowed)
                    out[s] = allowed
        if not flatten:
            if c.long_only:
                for s, q in out.items():
                    if q < 0:
                        self._refuse(ts, "long only", s, q, 0)
                        out[s] = 0
            self._position_limits(ts, out, prices, correlation)
        if out == positions:
            return positions
        self._order_limits(ts, out, positions)
        return out

    def _position_limits(self, ts: int, out: dict[str, int], prices: Mapping[str, float], correlation: float) -> None:
        c = self.config
        scale = c.corr_scale if correlation > c.corr_threshold else 1.0
        cap, gross_cap = c.max_notional * scale, c.max_gross * scale
        gross = 0.0
        for s, q in out.items():
            if not q:
                continue
            price, size = prices[s], q if q > 0 else -q
            if size * price > cap:  # also shrinks a position that grew over the cap because prices moved
                size = int(cap // price)
                out[s] = size if q > 0 else -size
                self._refuse(ts, "max_notional", s, q, out[s])
            gross += size * price
        while gross > gross_cap:
            s = max(out, key=lambda k: abs(out[k]) * prices[k])  # trim the largest leg a share at a time
            before = out[s]
            out[s] = before - 1 if before > 0 else before + 1
            gross -= prices[s]
            self._refuse(ts, "max_gross", s, before, out[s])

    def _order_limits(self, ts: int, out: dict[str, int], positions: Mapping[str, int]) -> None:
        """Order-rate caps, keeping the invariant orders_today + open symbols <= max_orders_per_day.

        Each symbol left open needs one more order to be flattened, so under the invariant the
        daily budget can always flatten everything at the close. A flattening order keeps the
        sum as it is; it is only ever delayed by the per-minute cap (to the next minute). When
        the budget cannot pay for a reduction, the position is closed instead, so a position
        over its cap (prices moved) never has to be kept.
        """
        c = self.config
        minute = ts // 60_000_000_000
        if minute != self._minute:
            self._minute, self.orders_this_minute = minute, 0
        after = dict(positions)
        for s, q in out.items():
            if q == after[s]:
                continue
            budget = c.max_orders_per_day - self.orders_today - 1  # what this order leaves for flattening
            if q != 0 and budget < len(after) and budget < _open_after(after, s, q):  # len(): the cheap bound first
                # no budget to resize: a wanted reduction closes the position instead (closing never
                # breaks the invariant), anything else keeps the position as it is
                allowed = 0 if abs(q) < abs(after[s]) else after[s]
                self._refuse(ts, "order budget", s, q, allowed)
                out[s] = q = allowed
                if q == after[s]:
                    continue
            if self.orders_this_minute >= c.max_orders_per_minute:
                self._refuse(ts, "order rate", s, q, after[s])
                out[s] = after[s]
                continue
            after[s] = q
            self.orders_today += 1
            self.orders_this_minute += 1

    def order_rejected(self) -> None:
        """A broker refused an order the governor counted: it never reached the market, give the budget back."""
        self.orders_today -= 1
        self.orders_this_minute = max(self.orders_this_minute - 1, 0)


def _open_after(positions: Mapping[str, int], symbol: str, target: int) -> int:
    """Symbols left non-flat if `symbol` moved to `target`."""
    n = 1 if target else 0
    for s, q in positions.items():
        if s != symbol and q:
            n += 1
    return n


def _toward_zero(target: int, current: int) -> int:
    """The part of `target` that does not grow or flip the current position."""
    if current >= 0:
        return min(max(target, 0), current)
    return max(min(target, 0), current)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
