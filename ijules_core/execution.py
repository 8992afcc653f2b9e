"""The one path from decision to fill, shared by training, backtests and paper trading.

    action (0..8) → target per symbol → RiskGovernor.review → orders → Broker → fills → Portfolio

`decide` runs at the close of bar t and submits orders; `on_bar` runs when bar t+1 opens
and books what the broker filled. Nothing else in the project computes a target, checks a
limit, fills an order or books a position. Targets and the governor's review are taken
against the *working* position — what is held plus what open orders will still add — so
a slow fill is never ordered twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ijules_core.brokers.base import Broker
from ijules_core.orders import REJECTED, Fill, Order
from ijules_core.portfolio import Portfolio
from ijules_core.risk import RiskGovernor

N_ACTIONS = 9  # 3 × 3: SELL / HOLD / BUY for each of two symbols
_DELTAS = {a: (a // 3 - 1, a % 3 - 1) for a in range(N_ACTIONS)}


def action_deltas(action: int) -> tuple[int, int]:
    """Action 0..8 as unit moves per symbol: 3·a0 + a1 with 0 = SELL, 1 = HOLD, 2 = BUY."""
    deltas = _DELTAS.get(action)  # numpy integers hash as ints; one lookup also validates
    if deltas is None:
        raise ValueError(f"action must be an integer in 0..8, got {action!r}")
    return deltas


@dataclass(frozen=True)
class ExecutionConfig:
    unit_shares: int = 1  # shares moved by one BUY/SELL
    max_units: int = 5  # |target| <= max_units · unit_shares before the governor's own caps
    long_only: bool = False

    def __post_init__(self) -> None:
        if self.unit_shares <= 0 or self.max_units <= 0:
            raise ValueError("ExecutionConfig: unit_shares and max_units must be positive integers")

    @property
    def max_shares(self) -> int:
        return self.unit_shares * self.max_units


# The targets each action asks for from a working position, per (symbols, unit, floor, limit): the same few
# positions come back bar after bar and episode after episode, so each is computed once per process.
_PROPOSALS: dict[tuple, dict[tuple[int, int], dict[int, dict[str, int]]]] = {}


def _propose(s0: str, s1: str, unit: int, lo: int, hi: int, q0: int, q1: int) -> dict[int, dict[str, int]]:
    """Per action, one unit up or down per symbol from (q0, q1), clamped to [lo, hi]. Shared: never modified."""
    return {a: {s0: min(max(q0 + d0 * unit, lo), hi), s1: min(max(q1 + d1 * unit, lo), hi)}
            for a, (d0, d1) in _DELTAS.items()}


class ExecutionEngine:
    def __init__(
        self,
        symbols: Sequence[str],
        broker: Broker,
        portfolio: Portfolio,
        governor: RiskGovernor,
        config: ExecutionConfig = ExecutionConfig(),
        id_prefix: str = "ij",
    ) -> None:
        if len(symbols) != 2:
            raise ValueError(f"the 3×3 action space trades exactly two symbols, got {list(symbols)}")
        self.symbols = list(symbols)
        self.broker = broker
        self.portfolio = portfolio
        self.governor = governor
        self.config = config
        self.id_prefix = id_prefix
        self.open_orders: list[Order] = []
        hi = config.max_shares
        self._propose_args = (*self.symbols, config.unit_shares, 0 if config.long_only else -hi, hi)
        self._by_working = _PROPOSALS.setdefault(self._propose_args, {})
        self._refresh()  # `working`: held + what open orders still add; `_proposals`: what each action asks from it

    def client_order_id(self, ts: int, symbol: str) -> str:
        """Deterministic: the same decision always names its order the same, so a resubmission is a no-op."""
        return f"{self.id_prefix}-{ts}-{symbol}"

    def decide(
        self,
        ts: int,
        action: int,
        prices: Mapping[str, float],
        minutes_to_close: float,
        bar_age_minutes: float = 0.0,
        latency_ms: float = 0.0,
        correlation: float = 0.0,
        equity: float | None = None,
    ) -> tuple[Order, ...]:
        """At the close of a bar: propose targets, review them, submit. Returns the orders sent (none, most bars).

        `bar_age_minutes`, `latency_ms` and `correlation` feed the governor's production and
        position layers; `ts` is the decision time (the bar's close), ns since epoch. `equity` is
        the book's value at `prices`, for a caller that has just marked it (else computed here).
        """
        working = self.working
        if equity is None:
            equity = self.portfolio.equity(prices)
        targets = self._proposals.get(action)  # kept with the working position: nothing to build per bar
        if targets is None:
            action_deltas(action)  # raises the error that names the bad action
        approved = self.governor.review(ts, targets, working, prices, equity, minutes_to_close,
                                        bar_age_minutes, latency_ms, correlation)
        if approved is working or approved == working:
            return ()
        orders = []
        for s, target in approved.items():
            qty = target - working[s]
            if qty:
                order = self.broker.submit(Order(self.client_order_id(ts, s), s, qty, ts))
                if order.status is REJECTED:
                    self.governor.order_rejected()
                orders.append(order)
        self.open_orders += orders
        self._refresh()
        return tuple(orders)

    def on_bar(self, ts: int, opens: Mapping[str, float]) -> list[Fill]:
        """A bar opened: let the broker fill what is due, and book the fills of this engine's orders.

        With no order open there is nothing to ask the broker (the common, free case).
        Fills from before a restart are the paper trader's to reconcile (`Broker.executions`).
        """
        if not self.open_orders:
            return []
        self.broker.on_bar(ts, opens)
        fills = self.broker.new_fills()
        for fill in fills:
            self.portfolio.apply_fill(fill)
        self._refresh()
        return fills

    def adopt(self, orders: Sequence[Order]) -> None:
        """Take these as the engine's open orders (a restarted trader's, as its broker knows them), after the
        portfolio has booked what the broker reports: the working position is recounted over them."""
        self.open_orders = list(orders)
        self._refresh()

    def cancel_open_orders(self) -> None:
        """Cancel whatever has not filled yet (a halt, a shutdown)."""
        for order in self.open_orders:
            self.broker.cancel(order.client_order_id)
        self._refresh()

    def _refresh(self) -> None:
        """Drop finished orders; the working position is what is held plus what open orders still add,
        and the proposals are the targets each action asks for from it (computed once per position)."""
        working, still_open = self.portfolio.quantities(), []
        for o in self.open_orders:
            if o.is_open:
                still_open.append(o)
                working[o.symbol] += o.remaining
        self.open_orders, self.working = still_open, working
        s0, s1 = self.symbols
        key = (working[s0], working[s1])
        proposals = self._by_working.get(key)
        if proposals is None:
            proposals = self._by_working[key] = _propose(*self._propose_args, *key)
        self._proposals = proposals
