"""PostgreSQL/TimescaleDB storage: connection, migrations, bulk loads and queries.

`database_url()` is the one way to find the database: IJULES_DATABASE_URL when set,
otherwise the embedded server (started on demand).
"""

from ijules_core.store.db import StoreError, connect, database_url, dagster_url, mlflow_url, with_schema

__all__ = ["StoreError", "connect", "database_url", "dagster_url", "mlflow_url", "with_schema"]
