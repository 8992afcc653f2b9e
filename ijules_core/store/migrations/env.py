"""Alembic environment: runs our migrations on the connection `ijules_core.store.schema` passes in."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table="ijules_alembic_version",
    version_table_schema="public",
    transactional_ddl=True,
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations(
        timescale=context.config.attributes["timescale"],
        timescale_options=context.config.attributes["timescale_options"],
    )
