"""Process-wide settings, read from the environment (never from code).

| variable                  | default                         | meaning                                        |
|---------------------------|---------------------------------|------------------------------------------------|
| IJULES_DATABASE_URL       | (unset → embedded PostgreSQL)   | PostgreSQL/TimescaleDB URL for everything      |
| IJULES_HOME               | <repo>/.ijules                  | generated state: pgdata, Dagster, MLflow, logs |
| IJULES_PG_PORT            | 54329                           | TCP port of the embedded server (127.0.0.1)    |
| IJULES_ENV                | ci                              | ci / staging / production (QC thresholds)      |
| IJULES_RETENTION_DAYS     | 0 (keep everything)             | TimescaleDB retention policy on market bars    |
| IJULES_REPORTS_DIR        | <repo>/reports                  | EOD and backtest reports written to disk       |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    home: Path
    pg_port: int
    environment: str
    retention_days: int
    reports_dir: Path

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        port = env.get("IJULES_PG_PORT", "54329")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"IJULES_PG_PORT={port!r} is not a TCP port number (1-65535)")
        environment = env.get("IJULES_ENV", "ci")
        if environment not in ("ci", "staging", "production"):
            raise ValueError(f"IJULES_ENV={environment!r}: use one of ci, staging, production")
        return cls(
            database_url=env.get("IJULES_DATABASE_URL") or None,
            home=Path(env.get("IJULES_HOME", REPO_ROOT / ".ijules")).resolve(),
            pg_port=int(port),
            environment=environment,
            retention_days=int(env.get("IJULES_RETENTION_DAYS", "0")),
            reports_dir=Path(env.get("IJULES_REPORTS_DIR", REPO_ROOT / "reports")).resolve(),
        )
