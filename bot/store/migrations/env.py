"""Alembic environment: runs on the connection `bot.store.schema` hands over; there is no alembic.ini."""

from __future__ import annotations

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from bot.store import columns
from bot.store.models import Base


def render_item(kind: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes our shared column types by name (the script template imports `columns`)."""
    if kind != "type":
        return False
    if isinstance(obj, columns.UTCDateTime):
        return "columns.UTCDateTime()"
    for name in ("JSONType", "BigId"):
        if repr(obj) == repr(getattr(columns, name)):
            return f"columns.{name}"
    return False


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
