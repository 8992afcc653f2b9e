"""Resources shared by every domain: the project database and the bar source."""

from __future__ import annotations

import os
from typing import Literal

import dagster as dg
import psycopg

from ijules_core import store
from ijules_core.alerts import send_alert
from ijules_core.bars import BarSource
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.store import schema


class StoreResource(dg.ConfigurableResource):
    """The project database; unset `database_url` means the embedded server."""

    database_url: str | None = None

    def url(self) -> str:
        return self.database_url or store.database_url()

    def connect(self) -> psycopg.Connection:
        return store.connect(self.url())

    def ensure_schema(self) -> str:
        """Apply pending migrations; returns the storage mode in force."""
        return schema.upgrade(self.url())


class BarSourceResource(dg.ConfigurableResource):
    """Which vendor bars come from, and for which symbols."""

    source: Literal["synthetic"] = "synthetic"
    symbols: list[str] = ["NVDA", "MSFT"]
    seed: int = 7
    rho: float = 0.6

    def build(self) -> BarSource:
        return SyntheticSource(seed=self.seed, rho=self.rho)


class AlertResource(dg.ConfigurableResource):
    """Where alerts go: the log, and a webhook when IJULES_ALERT_WEBHOOK_URL is set."""

    webhook_url: str | None = None

    def send(self, title: str, body: str) -> bool:
        return send_alert(title, body, self.webhook_url)


def _from_env(var: str):
    """`dg.EnvVar(var)` when the variable is set, else None: optional secrets stay out of code."""
    return dg.EnvVar(var) if os.environ.get(var) else None


def alert_resource() -> AlertResource:
    return AlertResource(webhook_url=_from_env("IJULES_ALERT_WEBHOOK_URL"))


def store_resource() -> StoreResource:
    # a URL may carry a password: take it from the environment through EnvVar, never from code
    return StoreResource(database_url=_from_env("IJULES_DATABASE_URL"))
