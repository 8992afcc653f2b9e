"""Positions, cash and P&L, booked from fills only.

A position keeps its average cost; realised P&L is booked when a fill reduces or flips it,
unrealised P&L is marked against the last prices. Shares are integers, money float64 dollars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ijules_core.orders import Fill


@dataclass(slots=True)
class Position:
    symbol: str
    qty: int = 0
    avg_cost: float = 0.0
    realized: float = 0.0
    commissions: float = 0.0

    def apply(self, qty: int, price: float) -> float:
        """Add a signed quantity at a price; returns the realised P&L of the part that closed."""
        held = self.qty
        new = held + qty
        if held == 0 or (held > 0) == (qty > 0):  # open or add
            self.avg_cost = (self.avg_cost * held + price * qty) / new
            self.qty = new
            return 0.0
        # reduce, close or flip
        closing = qty if abs(qty) <= abs(held) else -held
        realized = -closing * (price - self.avg_cost)
        self.qty = new
        if new == 0:
            self.avg_cost = 0.0
        elif closing != qty:  # flipped: the rest opens at the fill price
            self.avg_cost = price
        self.realized += realized
        return realized

    def unrealized(self, price: float) -> float:
        return self.qty * (price - self.avg_cost)


class Portfolio:
    """Cash, positions and the equity curve of one book (`mark` appends to the curve)."""

    def __init__(self, symbols: Sequence[str], cash: float = 10_000.0) -> None:
        if cash < 0:
            raise ValueError(f"starting cash must be >= 0, got {cash}")
        self.symbols = list(symbols)
        self.initial_cash = float(cash)
        self.cash = float(cash)
        self.positions = {s: Position(s) for s in self.symbols}
        self._held = tuple(self.positions.values())  # the same Position objects, for the per-step loops
        self.fills: list[Fill] = []
        self.fees = 0.0
        self.traded_value = 0.0
        self.curve_ts: list[int] = []  # ns since epoch of each mark
        self.curve: list[float] = []  # equity at each mark

    def apply_fill(self, fill: Fill) -> float:
        """Book a fill; returns its realised P&L (before commission)."""
        qty, price, commission = fill.qty, fill.price, fill.commission
        pos = self.positions[fill.symbol]
        realized = pos.apply(qty, price)
        pos.commissions += commission
        self.cash -= qty * price + commission
        self.fees += commission
        self.traded_value += abs(qty) * price
        self.fills.append(fill)
        return realized

    def qty(self, symbol: str) -> int:
        return self.positions[symbol].qty

    def quantities(self) -> dict[str, int]:
        out = {}
        for p in self._held:  # a loop, not a comprehension: on 3.11 that is a function call more per step
            out[p.symbol] = p.qty
        return out

    def equity(self, prices: Mapping[str, float]) -> float:
        value = self.cash
        for p in self._held:  # a plain loop that skips flat symbols: this runs on every environment step
            if p.qty:
                value += p.qty * prices[p.symbol]
        return value

    def mark(self, ts: int, prices: Mapping[str, float]) -> float:
        """Value the book at `prices` and append the point to the equity curve."""
        value = self.equity(prices)
        self.curve_ts.append(ts)
        self.curve.append(value)
        return value

    def gross_exposure(self, prices: Mapping[str, float]) -> float:
        return sum(abs(p.qty) * prices[s] for s, p in self.positions.items())

    def net_pnl(self, prices: Mapping[str, float]) -> dict[str, float]:
        """Per symbol, realised plus unrealised less commissions: what it has earned so far (every env step)."""
        out = {}
        for p in self._held:
            out[p.symbol] = p.realized + p.qty * (prices[p.symbol] - p.avg_cost) - p.commissions
        return out

    def pnl(self, prices: Mapping[str, float]) -> dict[str, dict[str, float]]:
        """Per symbol: realised, unrealised, commissions and the net of the three."""
        net = self.net_pnl(prices)
        return {s: {"realized": p.realized, "unrealized": p.unrealized(prices[s]), "commissions": p.commissions,
                    "net": net[s]}
                for s, p in self.positions.items()}

    def is_flat(self) -> bool:
        return all(p.qty == 0 for p in self.positions.values())
