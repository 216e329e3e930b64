"""Alembic environment: runs on the connection `bot.store.schema` hands over; there is no alembic.ini."""

from alembic import context

from bot.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    user_module_prefix="columns.",
)
with context.begin_transaction():
    context.run_migrations()
