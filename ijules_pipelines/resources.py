"""Resources shared by every domain: the project database and the bar source."""

from __future__ import annotations

import os
from typing import Literal

import dagster as dg
import psycopg

from ijules_core import store
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


def store_resource() -> StoreResource:
    # a URL may carry a password: take it from the environment through EnvVar, never from code
    if os.environ.get("IJULES_DATABASE_URL"):
        return StoreResource(database_url=dg.EnvVar("IJULES_DATABASE_URL"))
    return StoreResource()
