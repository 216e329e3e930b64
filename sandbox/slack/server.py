"""The Slack stand-in's HTTP face: the Web API methods by name, upload URLs and response URLs, with faults."""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.keepalive import DROP
from sandbox.slack import directory, files, messages, views
from sandbox.slack.faults import SlackFaultRule, SlackFaults
from sandbox.slack.files import upload
from sandbox.slack.messages import respond
from sandbox.slack.records import SlackCall, SlackError
from sandbox.slack.workspace import Workspace

#: Every Web API method the stand-in answers, by name.
METHODS: dict[str, Callable[[Workspace, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": directory.auth_test,
    "chat.postMessage": messages.post_message,
    "chat.update": messages.update,
    "chat.postEphemeral": messages.post_ephemeral,
    "chat.getPermalink": messages.get_permalink,
    "views.publish": views.views_publish,
    "usergroups.users.list": directory.usergroup_users,
    "users.info": directory.users_info,
    "conversations.info": directory.conversations_info,
    "conversations.history": messages.history,
    "conversations.replies": messages.replies,
    "files.getUploadURLExternal": files.get_upload_url,
    "files.completeUploadExternal": files.complete_upload,
}


class SlackApp:
    """The WSGI app: `/api/<method>`, `/upload/<file id>`, `/response/<id>`."""

    def __init__(self, workspace: Workspace, faults: SlackFaults, bot_token: str) -> None:
        self.ws = workspace
        self.faults = faults
        self.bot_token = bot_token

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        kind, _, name = request.path.lstrip("/").partition("/")
        method = {"api": name, "upload": "upload_url", "response": "response_url"}.get(kind)
        if method is None or not name or (kind != "api" and request.method != "POST"):
            return _json(404, {"ok": False, "error": "not_found"})
        args = self.args(request, kind, name)
        rule = self.faults.take(method)
        if rule is not None and rule.kind == "latency":
            time.sleep(rule.seconds)
        elif rule is not None:
            return self.fault(request, rule, method, args)
        with self.ws.lock:
            if kind == "upload":
                status, text = upload(self.ws, name, request.get_data())
                self.record(method, args, status, status == 200, None if status == 200 else text, rule)
                return Response(text, status=status, content_type="text/plain; charset=utf-8")
            if kind == "response":
                status, body = respond(self.ws, name, args.get("payload"))
            else:
                status, body = self.api(request, name, args)
            self.record(method, args, status, bool(body.get("ok")), body.get("error"), rule)
            scopes = ",".join(self.ws.scopes)
        response = _json(status, body)
        if kind == "api" and body.get("error") not in ("not_authed", "invalid_auth", "unknown_method"):
            response.headers["X-OAuth-Scopes"] = scopes  # Slack reports the token's scopes on every call
        return response

    def args(self, request: Request, kind: str, name: str) -> dict[str, Any]:
        """The call's arguments without the token: query, form and JSON merged; payload for response URLs."""
        if kind == "upload":
            return {"file_id": name, "length": request.content_length or 0}
        if kind == "response":
            try:
                return {"payload": json.loads(request.get_data() or b"null")}
            except ValueError:
                return {"payload": request.get_data(as_text=True)}
        args: dict[str, Any] = request.args.to_dict()
        if request.mimetype == "application/json":
            try:
                body = json.loads(request.get_data() or b"{}")
            except ValueError:
                body = None
            args.update(body if isinstance(body, dict) else {"_invalid_json": True})
        else:
            args.update(request.form.to_dict())
        return args

    def api(self, request: Request, name: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else args.get("token")
        args.pop("token", None)
        handler = METHODS.get(name)
        try:
            if handler is None:
                raise SlackError("unknown_method")
            if not token:
                raise SlackError("not_authed")
            if not secrets.compare_digest(str(token), self.bot_token):
                raise SlackError("invalid_auth")
            if args.pop("_invalid_json", False):
                raise SlackError("invalid_json")
            return 200, handler(self.ws, args)
        except SlackError as exc:
            return exc.status, exc.body()

    def fault(self, request: Request, rule: SlackFaultRule, method: str, args: dict[str, Any]) -> Response:
        args.pop("token", None)
        if rule.kind == "drop":
            self.record(method, args, 0, False, None, rule)
            request.environ[DROP] = True
            return Response(b"", status=500)
        if rule.kind == "ratelimited":
            self.record(method, args, 429, False, "ratelimited", rule)
            response = _json(429, {"ok": False, "error": "ratelimited"})
            response.headers["Retry-After"] = rule.retry_after
            return response
        status = rule.status if rule.kind == "status" else 200
        error = rule.error or "internal_error"
        self.record(method, args, status, False, error, rule)
        return _json(status, {"ok": False, "error": error})

    def record(
        self,
        method: str,
        args: dict[str, Any],
        status: int,
        ok: bool,
        error: str | None,
        rule: SlackFaultRule | None,
    ) -> None:
        with self.ws.lock:
            self.ws.calls.append(
                SlackCall(
                    method,
                    copy.deepcopy(args),
                    status,
                    ok,
                    error,
                    self.ws.clock.now(),
                    rule.kind if rule else None,
                )
            )


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")
