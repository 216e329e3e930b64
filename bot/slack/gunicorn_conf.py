"""Gunicorn settings read from app.yaml, for `gunicorn -c python:bot.slack.gunicorn_conf 'bot.slack.wsgi:create_app()'`.

Gunicorn imports this once, in its master: bind (server.port), workers and threads come from the loaded
configuration, and a database that may lose the audit log is warned about once. The app's modules are imported
here too (nothing connects at import time), so each worker forks with them loaded and a killed worker comes
back at once; the app itself is still built in each worker by `create_app()`.
"""

from __future__ import annotations

import sys

from bot.config import load_config
from bot.errors import ConfigError
from bot.logs import configure_logging
from bot.slack.serve import gunicorn_options, warn_about_database
from bot.slack.wsgi import create_app  # noqa: F401 - loaded once here, so a worker that dies is back in a blink

try:
    _cfg = load_config()
except ConfigError as exc:
    sys.exit(exc.describe())
configure_logging(_cfg.logging.level, _cfg.logging.format)
warn_about_database(_cfg)
globals().update(gunicorn_options(_cfg))  # bind, workers, threads, timeout
