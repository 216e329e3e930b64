"""One engine per process: read and write sessions, the dialect's INSERT, migrations; shared by the aggregates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, CursorResult, Result
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import SYSTEM_CLOCK, Clock
from bot.store.engine import make_engine
from bot.store.schema import upgrade as upgrade_schema

#: What a call into the store raises when the database cannot be reached or drops the connection mid-command.
UNREACHABLE = (OperationalError, InterfaceError)


class Database:
    """The engine and its sessions. Thread-safe; each aggregate store holds the process's one instance."""

    def __init__(self, url: str | URL, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.engine: Engine = make_engine(url)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(
            self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (Alembic upgrade); safe to call from every replica at start-up."""
        upgrade_schema(self.engine, revision)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (SQLite: `BEGIN IMMEDIATE`)."""
        with self._writer.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader.begin() as session:
            yield session

    def insert(self, model: type[Any]) -> Any:
        """The dialect's INSERT, which has ON CONFLICT on both SQLite and PostgreSQL."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(model)


def changed(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched."""
    return cast(CursorResult[Any], result).rowcount


def jsonable(value: Any) -> Any:
    """Audit JSON: datetimes as ISO 8601, containers recursively, the rest as is."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value
