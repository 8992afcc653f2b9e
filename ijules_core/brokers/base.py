"""What every broker offers the execution engine and the paper-trading service.

A broker takes orders (idempotently, by client order id), reports fills as they happen
(`new_fills`) and on demand since a time (`executions`, for reconciliation after a restart
or reconnect), and knows its positions and account. `on_bar` feeds market data to brokers
that simulate a venue; a real broker ignores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from ijules_core.orders import Fill, Order


class BrokerError(RuntimeError):
    """The broker cannot do what was asked (not connected, unknown order); the message says why."""


@dataclass(frozen=True, slots=True)
class Account:
    cash: float
    equity: float | None = None
    currency: str = "USD"


class Broker(Protocol):
    name: str

    @property
    def connected(self) -> bool: ...

    def submit(self, order: Order) -> Order:
        """Send the order; a client order id seen before returns the order already known."""
        ...

    def cancel(self, client_order_id: str) -> None: ...

    def new_fills(self) -> list[Fill]:
        """Fills that arrived since the last call."""
        ...

    def executions(self, since_ts: int = 0) -> list[Fill]:
        """All fills at or after `since_ts` (ns since epoch), as the broker knows them."""
        ...

    def positions(self) -> dict[str, int]: ...

    def account(self) -> Account: ...

    def on_bar(self, ts: int, opens: Mapping[str, float]) -> None:
        """A new bar opened at `ts`: a simulated venue fills what is due at these prices."""
        ...
