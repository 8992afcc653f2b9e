"""Prometheus metrics of the paper-trading service, on 127.0.0.1 by default.

One registry per service (not the process-global one), so tests and several services in
one process never share series. Names carry the `ijules_` prefix; per-symbol series carry a
`symbol` label. `grafana/ijules_paper.json` is the dashboard built on them.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

GOVERNOR_STATES = ("ACTIVE", "REDUCING", "HALTED")
# decision latency: bar in → order submitted; the target p99 is 5 ms
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.5)


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.portfolio_value = Gauge("ijules_portfolio_value_dollars", "Net liquidation value", registry=r)
        self.cash = Gauge("ijules_cash_dollars", "Cash balance", registry=r)
        self.daily_pnl = Gauge("ijules_daily_pnl_dollars", "P&L since the session start", registry=r)
        self.drawdown = Gauge("ijules_drawdown_dollars", "Drawdown from the equity peak", registry=r)
        self.position = Gauge("ijules_position_shares", "Position per symbol", ["symbol"], registry=r)
        self.price = Gauge("ijules_price_dollars", "Last bar close per symbol", ["symbol"], registry=r)
        self.trades = Counter("ijules_trades", "Fills booked", registry=r)
        self.decision_latency = Histogram("ijules_decision_latency_seconds", "Bar in to order submitted",
                                          buckets=LATENCY_BUCKETS, registry=r)
        self.confidence = Gauge("ijules_model_confidence", "Probability of the chosen action", registry=r)
        self.governor_state = Gauge("ijules_governor_state", "1 for the governor's current state", ["state"],
                                    registry=r)
        self.broker_connected = Gauge("ijules_broker_connected", "1 when the broker connection is up", registry=r)
        self.last_bar = Gauge("ijules_last_bar_timestamp_seconds", "Close of the last bar decided on (unix time)",
                              registry=r)
        self.refusals = Gauge("ijules_governor_refusals", "Targets the governor refused or trimmed, so far",
                              registry=r)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)

    def observe_portfolio(self, value: float, cash: float, daily_pnl: float, drawdown: float,
                          positions: Mapping[str, int], prices: Mapping[str, float]) -> None:
        self.portfolio_value.set(value)
        self.cash.set(cash)
        self.daily_pnl.set(daily_pnl)
        self.drawdown.set(drawdown)
        for symbol, qty in positions.items():
            self.position.labels(symbol=symbol).set(qty)
        for symbol, px in prices.items():
            self.price.labels(symbol=symbol).set(px)

    def observe_governor(self, state: str, refusals: int) -> None:
        for s in GOVERNOR_STATES:
            self.governor_state.labels(state=s).set(1.0 if s == state else 0.0)
        self.refusals.set(refusals)
