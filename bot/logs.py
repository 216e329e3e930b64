"""Log setup: text or JSON lines, with the request, step, incident and Slack user the work is about."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: The context a log line carries, by its JSON key. Only these are ever added: a record's `extra` is not.
FIELDS: dict[str, ContextVar[str | None]] = {
    key: ContextVar(key, default=None) for key in ("request_id", "step_id", "incident", "slack_user")
}


@contextmanager
def log_context(**values: object) -> Iterator[None]:
    """Tag the log lines written inside the block (and in work it submits) with `values`, e.g. request_id."""
    tokens = [(FIELDS[key], FIELDS[key].set(str(value))) for key, value in values.items() if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_context() -> dict[str, str]:
    """The context fields set in this thread's context."""
    return {key: value for key, var in FIELDS.items() if (value := var.get()) is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the known context and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **current_context(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str, fmt: str, text_format: str = TEXT_FORMAT) -> None:
    """Root level and `logging.format` ('text' in `text_format`, or 'json'); a stderr handler if none yet."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(text_format))
    root.setLevel(level)
