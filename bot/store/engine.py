"""Database URLs and engines: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL over psycopg 3."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
WAL_SWITCH_ATTEMPTS = 20


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL; `postgres://` and `postgresql://` (as Heroku and Render give them) use psycopg 3.

    Raises ValueError for backends other than SQLite and PostgreSQL, and for in-memory SQLite (each pooled
    connection would see its own empty database).
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {parsed.drivername!r}: use a sqlite:/// or postgresql:// URL")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ValueError("in-memory SQLite is not supported: give a file, e.g. sqlite:///data/bot.db")
    return parsed


def make_engine(url: str | URL) -> Engine:
    """An engine for `url`; creates a SQLite file's directory. Opens no connection."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True)
    Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Take transaction control from the sqlite3 module so `_sqlite_on_begin` decides how BEGIN is spelt.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _enable_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _enable_wal(cursor: Any) -> None:
    # WAL is a property of the file, so only the first connection to a new database switches it. That switch
    # upgrades a shared lock, and SQLite answers "locked" at once rather than wait (deadlock avoidance) when
    # another process is opening the same new file: retry briefly.
    for attempt in range(WAL_SWITCH_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == WAL_SWITCH_ATTEMPTS - 1:
                raise
            time.sleep(0.02 * (attempt + 1))


def _sqlite_on_begin(conn: Connection) -> None:
    # A writer takes the write lock up front (waiting out `busy_timeout`), so a read-then-write transaction
    # never fails half way with SQLITE_BUSY and concurrent writers run one after another.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
