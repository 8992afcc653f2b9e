"""Resources shared by every domain: the project database and the bar source."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import dagster as dg
import psycopg

from ijules_core import store
from ijules_core.alerts import send_alert
from ijules_core.bars import BarSource
from ijules_core.bars.alpha_vantage import AlphaVantageSource
from ijules_core.bars.files import ALPHA_VANTAGE_CSV, NINJATRADER, FileLayout, FilesSource
from ijules_core.bars.polygon import PolygonSource
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.config import Settings
from ijules_core.store import schema
from ijules_core.tracking import Tracker


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


FILE_LAYOUTS = {"bars": FileLayout(), "alpha_vantage_csv": ALPHA_VANTAGE_CSV, "ninjatrader": NINJATRADER}


class BarSourceResource(dg.ConfigurableResource):
    """Which vendor bars come from, for which symbols. API keys come from the environment only."""

    source: Literal["synthetic", "polygon", "alpha_vantage", "files"] = "synthetic"
    symbols: list[str] = ["NVDA", "MSFT"]
    extended_hours: bool = False
    # synthetic
    seed: int = 7
    rho: float = 0.6
    faults: dict[str, list[str]] = {}  # e.g. {"NVDA@2026-03-02": ["missing:60"]}: QC demonstrations
    # polygon / alpha_vantage
    polygon_api_key: str | None = None
    alpha_vantage_api_key: str | None = None
    base_url: str | None = None  # a vendor mirror or a local replay server
    # files
    drop_folder: str | None = None
    file_layout: Literal["bars", "alpha_vantage_csv", "ninjatrader"] = "bars"

    def _key(self, value: str | None, var: str) -> str:
        if not value:
            raise ValueError(f"bar source {self.source!r} needs an API key: set the environment variable {var}")
        return value

    def build(self) -> BarSource:
        urls = {"base_url": self.base_url} if self.base_url else {}
        if self.source == "polygon":
            return PolygonSource(self._key(self.polygon_api_key, "POLYGON_API_KEY"),
                                 extended_hours=self.extended_hours, **urls)
        if self.source == "alpha_vantage":
            return AlphaVantageSource(self._key(self.alpha_vantage_api_key, "ALPHA_VANTAGE_API_KEY"),
                                      extended_hours=self.extended_hours, **urls)
        if self.source == "files":
            if not self.drop_folder:
                raise ValueError("bar source 'files' needs drop_folder (or IJULES_DROP_FOLDER)")
            return FilesSource(Path(self.drop_folder), FILE_LAYOUTS[self.file_layout], extended_hours=self.extended_hours)
        return SyntheticSource(seed=self.seed, rho=self.rho, faults=self.faults)


def bar_source_resource() -> BarSourceResource:
    return BarSourceResource(
        polygon_api_key=_from_env("POLYGON_API_KEY"),
        alpha_vantage_api_key=_from_env("ALPHA_VANTAGE_API_KEY"),
        drop_folder=os.environ.get("IJULES_DROP_FOLDER"),
    )


class MLflowResource(dg.ConfigurableResource):
    """MLflow tracking: by default the project database (schema `mlflow`) and artifacts under $IJULES_HOME."""

    tracking_uri: str | None = None
    experiment: str = "ijules"
    artifact_root: str | None = None
    ui_url: str = "http://127.0.0.1:5000"

    def tracker(self) -> Tracker:
        settings = Settings.from_env()
        return Tracker(
            tracking_uri=self.tracking_uri or store.mlflow_url(store.database_url(settings)),
            experiment=self.experiment,
            artifact_root=self.artifact_root or str(settings.home / "mlartifacts"),
            ui_url=self.ui_url,
        )


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
