"""The Bolt app: request verification, retry suppression, the listeners, and the WSGI wrapper with /healthz."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.runtime import Runtime
from bot.slack import actions, commands, home

log = logging.getLogger(__name__)


def create_bolt_app(runtime: Runtime, *, token_verification: bool = True) -> App:
    cfg = runtime.cfg.slack
    app = App(
        client=runtime.slack,
        signing_secret=cfg.signing_secret.get_secret_value() if cfg.signing_secret else "",
        token_verification_enabled=token_verification,
        raise_error_for_unhandled_request=False,
        # Socket Mode has no signatures to check; HTTP mode always verifies (401 on a bad one).
        request_verification_enabled=cfg.mode != "socket",
    )

    @app.middleware
    def drop_slack_retries(req: Any, resp: Any, next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
        # A retry means our first answer was late; that first delivery is being handled already.
        if req.headers.get("x-slack-retry-num"):
            log.info("ignoring Slack retry %s", req.headers.get("x-slack-retry-num"))
            return BoltResponse(status=200, body="")
        return next()

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        log.error("listener failed (%s): %s", type(error).__name__, error, exc_info=error)
        return BoltResponse(status=200, body="")

    commands.register(app, runtime)
    actions.register(app, runtime)
    home.register(app, runtime)
    return app


def wsgi_app(bolt: App) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """`/slack/events` for Slack, `/healthz` for load balancers, 404 for the rest."""
    slack = SlackRequestHandler(bolt, path="/slack/events")

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            body = json.dumps({"ok": True}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return slack(environ, start_response)

    return application
