"""Transaction costs: slippage on the fill price and an IB-like per-share commission.

Defaults follow Interactive Brokers' fixed US-stock pricing: $0.005 a share, $1.00 minimum,
capped at 1 % of the trade value. `tc_bp` adds a proportional cost (exchange and
regulatory fees, or a research haircut) in basis points of the traded value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CostModel:
    slippage_bps: float = 1.0
    commission_per_share: float = 0.005
    min_commission: float = 1.0
    max_commission_pct: float = 0.01
    tc_bp: float = 0.0

    def __post_init__(self) -> None:
        for name in ("slippage_bps", "commission_per_share", "min_commission", "max_commission_pct", "tc_bp"):
            if getattr(self, name) < 0:
                raise ValueError(f"CostModel.{name} must be >= 0, got {getattr(self, name)}")

    def fill_price(self, qty: int, reference: float) -> float:
        """Buying (qty > 0) pays up, selling gets less: reference × (1 ± slippage)."""
        slip = self.slippage_bps * 1e-4
        return reference * (1.0 + slip) if qty > 0 else reference * (1.0 - slip)

    def commission(self, shares: int, price: float) -> float:
        """Per share, at least the minimum, at most the cap; plus `tc_bp` (comparisons: min/max cost more)."""
        shares = -shares if shares < 0 else shares
        value = shares * price
        fee = shares * self.commission_per_share
        if fee < self.min_commission:
            fee = self.min_commission
        cap = self.max_commission_pct * value
        if fee > cap:
            fee = cap
        return fee + self.tc_bp * 1e-4 * value
