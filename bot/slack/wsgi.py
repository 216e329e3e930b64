"""The web process: `gunicorn 'bot.slack.wsgi:create_app()'` serves /slack/events and /healthz on $PORT."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bot.config import AppConfig, load_config
from bot.errors import ConfigError
from bot.logs import configure_logging
from bot.runtime import Runtime, build_runtime
from bot.slack.app import create_bolt_app, wsgi_app

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serve(cfg: AppConfig) -> tuple[WSGIApp, Runtime]:
    """The WSGI application and its started runtime, for a given configuration."""
    if not cfg.slack.enabled:
        raise ConfigError(["slack.bot_token: SLACK_BOT_TOKEN is required to serve Slack"])
    if cfg.slack.mode != "http":
        raise ConfigError(["slack.signing_secret: HTTP mode needs SLACK_SIGNING_SECRET (or run Socket Mode)"])
    runtime = build_runtime(cfg)
    app = wsgi_app(create_bolt_app(runtime), runtime)
    runtime.start()
    return app, runtime


def create_app() -> WSGIApp:
    """Gunicorn's application factory; called in each worker, so nothing connects at import time."""
    cfg = load_config()
    configure_logging(cfg.logging.level, cfg.logging.format)
    app, _ = serve(cfg)
    return app
