"""Connections, and the URLs each tool uses to reach the one project database.

Our schemas (`market_data`, `trading`, `risk`, `backtest`), Dagster's storage (schema
`dagster`) and MLflow's tracking store (schema `mlflow`) share one database; each tool is
pointed at its own schema through the connection's `search_path`, so their tables (and
their separate `alembic_version` tables) never collide.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from ijules_core.config import Settings

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The database cannot be used as configured; the message says what to do."""


def database_url(settings: Settings | None = None, *, start: bool = True) -> str:
    """The project database URL: IJULES_DATABASE_URL, else the embedded server's."""
    settings = settings or Settings.from_env()
    if settings.database_url:
        return settings.database_url
    from ijules_core.store.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(settings.home / "pgdata", settings.pg_port)
    return server.start() if start else server.url


def redact_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def with_schema(url: str, schema: str, driver: str | None = None) -> str:
    """`url` with `search_path` set to `schema` (and a SQLAlchemy driver suffix if given)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    scheme = "postgresql" + (f"+{driver}" if driver else "")
    return urlunsplit(parts._replace(scheme=scheme, query=urlencode(query)))


def dagster_url(url: str) -> str:
    # dagster-postgres on SQLAlchemy 2.1 needs the psycopg2 dialect (NOTIFY with $1 fails otherwise)
    return with_schema(url, "dagster", driver="psycopg2")


def mlflow_url(url: str) -> str:
    return with_schema(url, "mlflow", driver="psycopg2")


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    """A psycopg 3 connection, or a StoreError that names the (redacted) URL and what to do."""
    url = url or database_url()
    try:
        return psycopg.connect(url, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"cannot connect to PostgreSQL at {redact_url(url)}: {reason} — check IJULES_DATABASE_URL "
            "(unset it to use the embedded server) and that the server is running"
        ) from exc
