"""Migrations (Alembic), applied by `ijules db upgrade` and before any command that needs the DB.

Each migration runs inside one transaction: a failure leaves the database as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ijules_core.config import Settings
from ijules_core.store import timescale
from ijules_core.store.db import StoreError, connect

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "ijules_alembic_version"


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=sa.pool.NullPool)


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(url: str) -> str | None:
    connect(url).close()  # an unreachable database is a StoreError with a clear message
    with _engine(url).connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "version_table_schema": "public"})
        return ctx.get_current_revision()


def upgrade(url: str, options: timescale.TimescaleOptions | None = None) -> str:
    """Bring the database to the newest schema; returns the storage mode ('timescaledb' or 'postgresql')."""
    script = ScriptDirectory.from_config(_config())
    with connect(url) as conn:
        use_ts = timescale.available(conn)
    at = current(url)
    engine = _engine(url)
    if at is not None and at not in {r.revision for r in script.walk_revisions()}:
        raise StoreError(
            f"the database is at schema revision {at!r}, which this code does not know: "
            "upgrade IntradayJules, or point IJULES_DATABASE_URL at another database"
        )
    mode = "timescaledb" if use_ts else "postgresql"
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes.update(connection=conn, timescale=use_ts,
                              timescale_options=options or timescale.TimescaleOptions(
                                  retention_days=Settings.from_env().retention_days))
        try:
            command.upgrade(cfg, "head")
        except sa.exc.DBAPIError as exc:
            raise StoreError(
                f"migration to {script.get_current_head()} failed and was rolled back: {exc.orig}"
            ) from exc
    if at != script.get_current_head():
        log.info("database schema %s -> %s (%s mode)", at, script.get_current_head(), mode)
    return mode
