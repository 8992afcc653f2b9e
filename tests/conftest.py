"""Shared fixtures: a real PostgreSQL server for the session, a fresh database per test.

`IJULES_TEST_DATABASE_URL` points the suite at an existing server (e.g. TimescaleDB);
otherwise an embedded server is started in a temporary directory on a free port and
stopped at the end. Each test gets its own database, cloned from a migrated template.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from ijules_core.store.embedded import EmbeddedPostgres
from ijules_core.store.scratch import scratch_database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory):
    url = os.environ.get("IJULES_TEST_DATABASE_URL")
    if url:
        yield url
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("ijules") / "pgdata", _free_port())
    yield server.start()
    server.stop()


@pytest.fixture
def db_url(pg_server_url):
    """URL of a migrated database of this test's own, dropped afterwards."""
    with scratch_database(pg_server_url, f"test_{uuid.uuid4().hex[:12]}") as url:
        yield url


@pytest.fixture
def empty_db_url(pg_server_url):
    """URL of an empty, unmigrated database of this test's own."""
    with scratch_database(pg_server_url, f"test_{uuid.uuid4().hex[:12]}", migrated=False) as url:
        yield url
