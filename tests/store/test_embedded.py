import socket

import psycopg
import pytest

from ijules_core.store.embedded import EmbeddedPostgres, EmbeddedPostgresError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        server = EmbeddedPostgres(tmp_path / "pgdata", blocker.getsockname()[1])
        with pytest.raises(EmbeddedPostgresError, match="already in use.*IJULES_PG_PORT"):
            server.start()
    assert not server.is_running()


def test_non_empty_directory_without_cluster_is_refused(tmp_path):
    data = tmp_path / "pgdata"
    data.mkdir()
    (data / "notes.txt").write_text("not a database")
    with pytest.raises(EmbeddedPostgresError, match="not empty but holds no PostgreSQL cluster"):
        EmbeddedPostgres(data, _free_port()).start()
    assert (data / "notes.txt").read_text() == "not a database"  # nothing touched


def test_start_stop_restart_with_stale_pid_file(tmp_path):
    server = EmbeddedPostgres(tmp_path / "pgdata", _free_port())
    url = server.start()
    assert server.start() == url  # already running: a no-op
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    assert server.stop() and not server.is_running()
    (server.data_dir / "postmaster.pid").write_text("999999\n")  # a crash leaves this behind
    server.start()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
    server.stop()
