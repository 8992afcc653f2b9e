import pytest

from ijules_core.store import StoreError, connect, schema
from ijules_core.store.timescale import TimescaleOptions, plain_statements, timescale_statements


def test_upgrade_creates_schemas_and_is_idempotent(empty_db_url):
    assert schema.current(empty_db_url) is None
    mode = schema.upgrade(empty_db_url)
    assert mode in ("postgresql", "timescaledb")
    assert schema.upgrade(empty_db_url) == mode
    assert schema.current(empty_db_url) == schema.head()
    with connect(empty_db_url) as conn:
        names = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
        rels = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'market_data'")}
    assert {"market_data", "trading", "risk", "backtest", "dagster", "mlflow"} <= names
    assert {"bars", "bars_staging", "qc_reports", "bars_5min", "bars_daily"} <= rels


def test_failed_migration_is_rolled_back_whole(empty_db_url):
    with connect(empty_db_url) as conn:  # a clash half-way through migration 0001
        conn.execute("CREATE SCHEMA market_data")
        conn.execute("CREATE TABLE market_data.qc_reports (x int)")
        conn.commit()
    with pytest.raises(StoreError, match="rolled back"):
        schema.upgrade(empty_db_url)
    with connect(empty_db_url) as conn:
        assert conn.execute("SELECT to_regclass('market_data.bars')").fetchone()[0] is None
        assert conn.execute("SELECT to_regnamespace('trading')").fetchone()[0] is None
    assert schema.current(empty_db_url) is None


def test_database_from_newer_code_is_refused(empty_db_url):
    schema.upgrade(empty_db_url)
    with connect(empty_db_url) as conn:
        conn.execute("UPDATE public.ijules_alembic_version SET version_num = '9999'")
        conn.commit()
    with pytest.raises(StoreError, match="revision '9999'.*does not know"):
        schema.upgrade(empty_db_url)


def test_unreachable_database_names_url_without_password():
    url = "postgresql://trader:s3cret-pw@127.0.0.1:1/ijules"
    with pytest.raises(StoreError) as err:
        connect(url)
    assert "127.0.0.1:1" in str(err.value) and "s3cret-pw" not in str(err.value)
    assert "IJULES_DATABASE_URL" in str(err.value)


def test_plain_mode_sql_has_no_timescale_functions():
    sql = " ".join(plain_statements())
    assert "time_bucket" not in sql and "timescaledb" not in sql
    assert "CREATE OR REPLACE VIEW market_data.bars_5min" in sql


def test_timescale_sql_covers_hypertable_compression_retention_aggregates():
    stmts = timescale_statements(TimescaleOptions(retention_days=90))
    text = "\n".join(stmts)
    assert "create_hypertable('market_data.bars', by_range('ts'" in text
    assert "add_compression_policy('market_data.bars'" in text
    assert "add_retention_policy('market_data.bars', INTERVAL '90 days')" in text
    for view in ("bars_5min", "bars_daily"):
        assert f"CREATE MATERIALIZED VIEW market_data.{view} WITH (timescaledb.continuous)" in text
        assert f"add_continuous_aggregate_policy('market_data.{view}'" in text
    assert "add_retention_policy" not in "\n".join(timescale_statements(TimescaleOptions()))
    with pytest.raises(ValueError, match="retention_days"):
        TimescaleOptions(retention_days=-1)
