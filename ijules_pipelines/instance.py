"""Point Dagster at the repo's dagster.yaml and the project database, for every entry point."""

from __future__ import annotations

import os

from ijules_core.config import REPO_ROOT, Settings
from ijules_core.store import dagster_url, database_url, schema


def prepare_environment(settings: Settings | None = None) -> str:
    """Start/migrate the database and export what dagster.yaml reads; returns the database URL."""
    settings = settings or Settings.from_env()
    url = database_url(settings)
    schema.upgrade(url)
    dagster_home = settings.home / "dagster"
    for sub in ("storage", "logs"):
        (dagster_home / sub).mkdir(parents=True, exist_ok=True)
    os.environ.update(
        DAGSTER_HOME=str(REPO_ROOT),  # the committed dagster.yaml is the one in force
        IJULES_DAGSTER_PG_URL=dagster_url(url),
        IJULES_DAGSTER_STORAGE=str(dagster_home / "storage"),
        IJULES_DAGSTER_LOGS=str(dagster_home / "logs"),
    )
    return url
