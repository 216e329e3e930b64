"""Run the Slack bot from `python -m bot`: gunicorn in HTTP mode, or a Socket Mode connection."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.config import AppConfig, database_warnings

log = logging.getLogger(__name__)


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """Gunicorn run from Python; each worker builds its own runtime from the already loaded configuration."""

    def __init__(self, options: dict[str, Any], cfg: AppConfig) -> None:
        self.options = options
        self.app_config = cfg
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from bot.slack.wsgi import serve

        return serve(self.app_config)[0]


def gunicorn_options(cfg: AppConfig) -> dict[str, Any]:
    """Gunicorn's settings from `server.*`, for `python -m bot` and the Procfile's `-c python:bot.slack.gunicorn_conf`."""
    return {"bind": f"0.0.0.0:{cfg.server.port}", "workers": cfg.server.workers, "threads": cfg.server.threads,
            "timeout": 60}


def warn_about_database(cfg: AppConfig) -> None:
    """Say once at start-up when the database may lose the audit log or not be shared (`database_warnings`)."""
    for warning in database_warnings(cfg):
        log.warning(warning)


def run_http(cfg: AppConfig) -> None:
    """The same server the Procfile's web line starts: gunicorn, /slack/events and /healthz on server.port."""
    _Gunicorn(gunicorn_options(cfg), cfg).run()


def run_socket_mode(cfg: AppConfig) -> None:
    """No public URL needed: the bot opens a WebSocket to Slack with the app-level token."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.runtime import build_runtime
    from bot.slack.app import create_bolt_app

    runtime = build_runtime(cfg)
    app = create_bolt_app(runtime)
    runtime.start()
    assert cfg.slack.app_token is not None
    try:
        SocketModeHandler(app, cfg.slack.app_token.get_secret_value()).start()
    finally:
        runtime.stop()
