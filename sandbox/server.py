"""The sandbox HTTPS server: one Flask app for the Entra ID, Graph and Exchange paths and a control plane."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from typing import Any

from flask import Flask, Request, Response, request

from sandbox.ca import SandboxCA
from sandbox.entra import Entra
from sandbox.exchange import Exchange
from sandbox.faults import FaultRule
from sandbox.graph import Graph
from sandbox.keepalive import DROP, ConnectionStats, serve
from sandbox.recording import RecordedRequest
from sandbox.state import SandboxState
from sandbox.wire import ENTRA_JSON, ODATA_JSON, Call, Reply

log = logging.getLogger(__name__)

METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
CONTENT_TYPES = {"login": ENTRA_JSON, "graph": ODATA_JSON, "exchange": ODATA_JSON}
SECRET_FIELDS = frozenset({"client_secret", "client_assertion"})
AGS_DIAGNOSTIC = json.dumps(
    {
        "ServerInfo": {
            "DataCenter": "Sandbox",
            "Slice": "E",
            "Ring": "5",
            "ScaleUnit": "000",
            "RoleInstance": "SANDBOX",
        }
    }
)


def create_app(state: SandboxState) -> Flask:
    """The WSGI app: `/v1.0`, `/beta` Graph; `/adminapi` Exchange; `/_sandbox` control; else Entra ID."""
    app = Flask(__name__)
    services: dict[str, Any] = {"login": Entra(state), "graph": Graph(state), "exchange": Exchange(state)}

    @app.get("/_sandbox/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "tenants": {key: tenant.id for key, tenant in state.tenants.items()}}

    @app.get("/_sandbox/requests")
    def requests_seen() -> dict[str, Any]:
        """How many requests each service answered (and Exchange per cmdlet), for benchmarks in another process."""
        seen = state.requests.snapshot()
        cmdlets: dict[str, int] = {}
        for record in seen:
            if record.cmdlet:
                cmdlets[record.cmdlet] = cmdlets.get(record.cmdlet, 0) + 1
        return {"total": len(seen), "by_service": dict(state.requests.count_by_service()), "by_cmdlet": cmdlets}

    @app.post("/_sandbox/reset")
    def reset() -> dict[str, Any]:
        state.reset()
        return {"status": "reset"}

    @app.route("/_sandbox/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Any:
        if request.method == "POST":
            try:
                rule = state.faults.add_json(request.get_json(silent=True))
            except ValueError as exc:
                return {"error": str(exc)}, 400
            return asdict(rule), 201
        if request.method == "DELETE":
            if "id" not in request.args:
                state.faults.clear()
                return "", 204
            rule_id = request.args["id"]
            removed = rule_id.isdigit() and state.faults.remove(int(rule_id))
            return ("", 204) if removed else ({"error": "no such fault"}, 404)
        return {"rules": state.faults.as_json()}

    @app.route("/", defaults={"path": ""}, methods=METHODS)
    @app.route("/<path:path>", methods=METHODS)
    def service(path: str) -> Response:
        return _serve(state, services, request)

    return app


def _serve(state: SandboxState, services: dict[str, Any], req: Request) -> Response:
    """Apply faults, dispatch to the service, record the request, and build the HTTP response."""
    path = req.path
    service = _service_of(path)
    call = Call(
        method=req.method,
        path=path,
        query=req.args.to_dict(),
        headers={k.lower(): v for k, v in req.headers.items()},
        body=req.get_data(),
        base_url=req.host_url.rstrip("/"),
    )
    cmdlet = Exchange.cmdlet_name(call) if service == "exchange" else None
    identity = Exchange.cmdlet_identity(call) if service == "exchange" else None
    rule: FaultRule | None = state.faults.take(service, call.method, path, cmdlet, identity=identity)
    def handle() -> Reply:
        return services[service].handle(call)

    reply = rule.answer(service, call, state.clock.now(), handle) if rule else handle()
    state.requests.append(
        RecordedRequest(
            service=service,
            method=call.method,
            path=path,
            query={k: v for k, v in call.query.items() if k not in SECRET_FIELDS},
            api_version=_api_version(service, path),
            cmdlet=cmdlet,
            batch_items=tuple(reply.batch_items or ()),
            status=reply.status,
            timestamp=state.clock.now(),
            fault=rule.kind if rule else None,
            anchor_mailbox=call.header("X-AnchorMailbox"),
            client_request_id=call.header("client-request-id"),
            host=req.host,
        )
    )
    if reply.drop:
        req.environ[DROP] = True
    return _response(service, call, reply)


def _service_of(path: str) -> str:
    first = path.lstrip("/").split("/", 1)[0]
    if first in ("v1.0", "beta"):
        return "graph"
    return "exchange" if first.lower() == "adminapi" else "login"


def _api_version(service: str, path: str) -> str | None:
    parts = path.strip("/").split("/")
    if service == "graph":
        return parts[0]
    if service == "exchange":
        return parts[1] if len(parts) > 1 else None
    return "v2.0" if "v2.0" in parts else None


def _response(service: str, call: Call, reply: Reply) -> Response:
    headers = dict(reply.headers)
    if service != "login":
        headers.setdefault("request-id", call.request_id)
        headers.setdefault("client-request-id", call.client_request_id)
    if service == "graph":
        headers.setdefault("x-ms-ags-diagnostic", AGS_DIAGNOSTIC)
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if reply.body is not None and not isinstance(reply.body, bytes):
        headers.setdefault("Content-Type", CONTENT_TYPES[service])
    return Response(reply.content(), status=reply.status, headers=headers)


class SandboxServer:
    """The app served over HTTPS by werkzeug in a daemon thread. Port 0 picks a free port.

    Connections stay open between requests (HTTP/1.1 keep-alive, as Graph and Exchange Online do);
    `keep_alive=False` closes each one after its answer, the old behaviour a bench compares against.
    """

    def __init__(
        self, state: SandboxState, ca: SandboxCA, host: str = "127.0.0.1", port: int = 0, *, keep_alive: bool = True
    ) -> None:
        self.state = state
        self._server = serve(host, port, create_app(state), ssl_context=ca.ssl_context(), keep_alive=keep_alive)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-https",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def connections(self) -> ConnectionStats:
        """TCP connections accepted and requests answered since start (or `connections.reset()`)."""
        return self._server.stats  # type: ignore[attr-defined, no-any-return]

    @property
    def url(self) -> str:
        """`https://localhost:PORT`: the base of every endpoint (the server certificate names localhost)."""
        return f"https://localhost:{self.port}"

    def start(self) -> SandboxServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self.connections.close_all()
        self._server.server_close()
