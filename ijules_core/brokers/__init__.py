"""Brokers: one interface (`Broker`), a simulated venue and Interactive Brokers."""

from ijules_core.brokers.base import Account, Broker, BrokerError

__all__ = ["Account", "Broker", "BrokerError"]
