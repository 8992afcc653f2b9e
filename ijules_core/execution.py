"""The one path from decision to fill, shared by training, backtests and paper trading.

    action (0..8) → target per symbol → RiskGovernor.review → orders → Broker → fills → Portfolio

`decide` runs at the close of bar t and submits orders; `on_bar` runs when bar t+1 opens
and books what the broker filled. Nothing else in the project computes a target, checks a
limit, fills an order or books a position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ijules_core.brokers.base import Broker
from ijules_core.orders import Fill, Order, OrderStatus
from ijules_core.portfolio import Portfolio
from ijules_core.risk import RiskGovernor

N_ACTIONS = 9  # 3 × 3: SELL / HOLD / BUY for each of two symbols


def action_deltas(action: int) -> tuple[int, int]:
    """Action 0..8 as unit moves per symbol: 3·a0 + a1 with 0 = SELL, 1 = HOLD, 2 = BUY."""
    if not 0 <= action < N_ACTIONS:
        raise ValueError(f"action must be an integer in 0..8, got {action!r}")
    return action // 3 - 1, action % 3 - 1


@dataclass(frozen=True)
class ExecutionConfig:
    unit_shares: int = 1  # shares moved by one BUY/SELL
    max_units: int = 5  # |target| <= max_units · unit_shares before the governor's own caps
    long_only: bool = False

    def __post_init__(self) -> None:
        if self.unit_shares <= 0 or self.max_units <= 0:
            raise ValueError("ExecutionConfig: unit_shares and max_units must be positive integers")


@dataclass(frozen=True, slots=True)
class Decision:
    ts: int
    action: int
    proposed: dict[str, int]
    approved: dict[str, int]
    orders: tuple[Order, ...]


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
        self._limit = config.max_units * config.unit_shares
        self._floor = 0 if config.long_only else -self._limit

    def client_order_id(self, ts: int, symbol: str) -> str:
        """Deterministic: the same decision always names its order the same, so a resubmission is a no-op."""
        return f"{self.id_prefix}-{ts}-{symbol}"

    def propose(self, action: int) -> dict[str, int]:
        d0, d1 = action_deltas(action)
        unit, pos = self.config.unit_shares, self.portfolio.positions
        s0, s1 = self.symbols
        return {
            s0: min(max(pos[s0].qty + d0 * unit, self._floor), self._limit),
            s1: min(max(pos[s1].qty + d1 * unit, self._floor), self._limit),
        }

    def decide(
        self,
        ts: int,
        action: int,
        prices: Mapping[str, float],
        minutes_to_close: float,
        **conditions,
    ) -> Decision:
        """At the close of a bar: propose, review, submit. `conditions` go to the governor (staleness, latency, correlation)."""
        proposed = self.propose(action)
        positions = self.portfolio.quantities()
        approved = self.governor.review(ts, proposed, positions, prices, self.portfolio.equity(prices),
                                         minutes_to_close, **conditions)
        orders = []
        for s, target in approved.items():
            qty = target - positions[s]
            if qty:
                order = self.broker.submit(Order(self.client_order_id(ts, s), s, qty, ts))
                if order.status is OrderStatus.REJECTED:
                    self.governor.order_rejected()
                orders.append(order)
        return Decision(ts, action, proposed, approved, tuple(orders))

    def on_bar(self, ts: int, opens: Mapping[str, float]) -> list[Fill]:
        """A bar opened: let the broker fill what is due, and book the fills."""
        self.broker.on_bar(ts, opens)
        fills = self.broker.new_fills()
        for fill in fills:
            self.portfolio.apply_fill(fill)
        return fills
