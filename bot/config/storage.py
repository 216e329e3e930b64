"""Whether the configured database outlives the process and is shared by every process that serves Slack."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from bot.config.sections import AppConfig

#: Directories whose files a host may drop at any restart.
EPHEMERAL_DIRS = (PurePosixPath("/tmp"), PurePosixPath("/var/tmp"))
#: Files that Docker and Podman put in every container: a relative path there lands in the container's own layer.
CONTAINER_MARKERS = (Path("/.dockerenv"), Path("/run/.containerenv"))
MEMORY = ("", ":memory:")


def in_container() -> bool:
    return any(marker.exists() for marker in CONTAINER_MARKERS)


def sqlite_path(url: str) -> str | None:
    """The file of an SQLite URL ('' or ':memory:' for an in-memory database), None for any other database."""
    scheme, _, rest = url.partition("://")
    if not scheme.startswith("sqlite"):
        return None
    return rest.removeprefix("/").partition("?")[0]


def database_line(cfg: AppConfig) -> str:
    """What `check-config` says about the database."""
    path = sqlite_path(cfg.database.url)
    if path is None:
        return f"Database: {cfg.database.url.partition('://')[0]} (shared by every replica)"
    return "Database: SQLite in memory" if path in MEMORY else f"Database: SQLite file {Path(path).absolute()}"


def database_warnings(cfg: AppConfig, *, container: bool | None = None) -> list[str]:
    """Why the database may lose the audit log or not be shared: SQLite with several gunicorn workers, or a
    file that looks ephemeral (under /tmp or /var/tmp, or a relative path inside a container)."""
    path = sqlite_path(cfg.database.url)
    if path is None:
        return []
    found = []
    if cfg.slack.mode == "http" and cfg.server.workers > 1:
        found.append(f"database: SQLite with server.workers {cfg.server.workers}: fine on one host, but replicas "
                     "on other hosts would each have their own file; use PostgreSQL (DATABASE_URL) for several")
    if path in MEMORY or _ephemeral(PurePosixPath(path), in_container() if container is None else container):
        found.append(f"database: the SQLite file {path or ':memory:'} looks ephemeral: the audit log and every "
                     "request are lost when the process, host or container is replaced; put it on a persistent "
                     "volume (an absolute path) or use PostgreSQL (DATABASE_URL)")
    return found


def _ephemeral(path: PurePosixPath, container: bool) -> bool:
    if not path.is_absolute():
        return container
    return any(path.is_relative_to(directory) for directory in EPHEMERAL_DIRS)
