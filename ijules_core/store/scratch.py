"""Throw-away databases on the same server: one per test, benchmark or experiment.

The first call migrates a template database; each scratch database is then a cheap
`CREATE DATABASE … TEMPLATE` copy of it, so isolation costs milliseconds, not a migration.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from psycopg import sql

from ijules_core.store import schema
from ijules_core.store.db import connect

TEMPLATE = "ijules_template"


def _url_for(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


def _admin(url: str):
    return connect(_url_for(url, "postgres"), autocommit=True)


def ensure_template(url: str) -> None:
    """Create (or bring up to date) the migrated template database."""
    with _admin(url) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    tpl = _url_for(url, TEMPLATE)
    if schema.current(tpl) != schema.head():
        schema.upgrade(tpl)


@contextlib.contextmanager
def scratch_database(url: str, name: str, keep: bool = False, migrated: bool = True) -> Iterator[str]:
    """A database `name` on `url`'s server (migrated unless told otherwise), dropped on exit unless `keep`."""
    if migrated:
        ensure_template(url)
    ident = sql.Identifier(name)
    create = sql.SQL("CREATE DATABASE {}").format(ident)
    if migrated:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(TEMPLATE))
    with _admin(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(create)
    try:
        yield _url_for(url, name)
    finally:
        if not keep:
            with _admin(url) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
