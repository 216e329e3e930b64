"""The Bolt app: request verification, retry suppression, the listeners, and the WSGI app around it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from bot.health import Readiness
from bot.logs import log_context
from bot.metrics import metrics_app
from bot.runtime import Runtime
from bot.slack.edge import SlackDoor, quiet_verbose_libraries
from bot.slack.listeners import (
    alert_actions,
    enable,
    explain,
    home,
    oauth,
    plan_actions,
    probe,
    readiness,
    status,
)
from bot.slack.listeners.common import home_reply
from bot.slack.services import SlackServices

log = logging.getLogger(__name__)
EVENTS = "/slack/events"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _not_token_skipped(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client we pass wins; that client carries the same token."""
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


logging.getLogger("slack_bolt.App").addFilter(_not_token_skipped)


def create_bolt_app(runtime: Runtime, *, token_verification: bool = True) -> App:
    """The bot's Bolt app over a runtime: its Slack client, signing secret and mode."""
    return bolt_app(runtime, client=runtime.slack, signing_secret=signing_secret(runtime),
                    verify_requests=runtime.cfg.slack.mode != "socket", token_verification=token_verification)


def signing_secret(runtime: Runtime) -> str:
    secret = runtime.cfg.slack.signing_secret
    return secret.get_secret_value() if secret else ""


def bolt_app(services: SlackServices, *, client: WebClient, signing_secret: str, verify_requests: bool = True,
             token_verification: bool = True) -> App:
    """A Bolt app with every listener over `services`, retries dropped and listener errors logged."""
    app = App(
        client=client,
        logger=quiet_verbose_libraries(),
        signing_secret=signing_secret,
        token_verification_enabled=token_verification,
        raise_error_for_unhandled_request=False,
        # Every listener acks at once and hands slow work to the runtime's pool itself, so run listeners in
        # the request thread: no hop to Bolt's executor and no 10 ms polling for the ack.
        process_before_response=True,
        # Socket Mode has no signatures to check; HTTP mode always verifies (401 on a bad one).
        request_verification_enabled=verify_requests,
    )

    app.middleware(drop_slack_retries)
    app.middleware(tag_slack_user)

    def answer_in_app_home(body: dict[str, Any], context: Any, next: Callable[[], Any]) -> Any:
        """Every listener's `respond` works for App Home clicks too: it refreshes the clicker's Home view."""
        reply = home_reply(services, body)
        if reply is not None:
            context["respond"] = reply
        return next()

    app.middleware(answer_in_app_home)
    app.error(on_error)
    register_listeners(app, services)
    return app


def drop_slack_retries(req: Any, resp: Any, next: Callable[[], Any]) -> Any:
    """A retry means our first answer was late; that first delivery is being handled already."""
    if req.headers.get("x-slack-retry-num"):
        log.info("ignoring Slack retry %s", req.headers.get("x-slack-retry-num"))
        return BoltResponse(status=200, body="")
    return next()


def tag_slack_user(context: Any, next: Callable[[], Any]) -> Any:
    """Log lines written while answering (and by the work it submits) carry the Slack user who acted."""
    with log_context(slack_user=context.user_id):
        return next()


def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    log.error("listener failed (%s): %s", type(error).__name__, error, exc_info=error)
    return BoltResponse(status=200, body="")


def register_listeners(app: App, services: SlackServices) -> None:
    """Every command, button and event the bot answers, each feature's listeners from its own module."""
    for feature in (enable, oauth, status, probe, explain, readiness, plan_actions, alert_actions, home):
        feature.register(app, services)


def wsgi_app(bolt: App, runtime: Runtime) -> WSGIApp:
    """`/slack/events` for Slack behind its door, `/healthz` (liveness) and `/readyz` (readiness) for load
    balancers, `/metrics` for Prometheus with `server.metrics_token` (404 without one), 404 for the rest."""
    server = runtime.cfg.server
    slack = SlackRequestHandler(bolt, path=EVENTS)
    door = SlackDoor(signing_secret(runtime), server.max_body_bytes)
    routes: dict[str, WSGIApp] = {"/healthz": healthz, "/readyz": readyz_app(Readiness.of(runtime))}
    if server.metrics_token is not None:
        routes["/metrics"] = metrics_app(runtime.metrics, server.metrics_token.get_secret_value())

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = routes.get(environ.get("PATH_INFO", ""))
        if route is not None:
            return route(environ, start_response)
        refusal = door.check(environ) if environ.get("PATH_INFO") == EVENTS else None
        if refusal is not None:
            return _json(start_response, refusal.status, refusal.body)
        try:
            return slack(environ, start_response)
        except Exception:
            # e.g. a signed block_actions body with "actions": [] raises inside Bolt's matchers and again in
            # its error handler; answer 400 instead of letting the server turn it into a 500.
            log.exception("Bolt could not handle a request")
            body = b"bad request"
            start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]

    return application


def healthz(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Liveness: the process answers. Cheap; touches nothing."""
    return _json(start_response, "200 OK", json.dumps({"ok": True}).encode())


def readyz_app(checks: Readiness) -> WSGIApp:
    """Readiness: 200 when every check passes, else 503; the body names each failing cause."""

    def readyz(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        report = checks.report()
        status = "200 OK" if report["ready"] else "503 Service Unavailable"
        return _json(start_response, status, json.dumps(report).encode())

    return readyz


def _json(start_response: Callable[..., Any], status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store")])
    return [body]
