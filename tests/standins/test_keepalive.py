"""The sandbox and the Slack stand-in keep HTTP/1.1 connections alive, as Microsoft and Slack do."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sandbox.launcher import Sandbox, start_sandbox
from sandbox.server import SandboxServer
from sandbox.slack.standin import SlackStandin

TOKEN = "xoxb-keepalive"


def https(sb: Sandbox) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(sb.ca_path))
    return http.client.HTTPSConnection("localhost", sb.server.port, context=context, timeout=5)


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    response.read()
    return response


def test_one_connection_serves_every_kind_of_answer(sb: Sandbox) -> None:
    tenant_id = sb.state.tenant("contoso").id
    sb.state.faults.add("malformed", service="graph", path="/v1.0/organization")
    sb.state.faults.add("redirect", service="graph", path="/v1.0/domains")
    conn = https(sb)
    before = sb.server.connections.accepted
    answers = [
        call(conn, "GET", "/_sandbox/health"),  # 200
        call(conn, "POST", "/_sandbox/faults", b'{"kind": "nope"}', {"Content-Type": "application/json"}),  # 400
        call(conn, "DELETE", "/_sandbox/faults?id=999"),  # 404
        call(conn, "GET", "/v1.0/users"),  # 401, no token
        call(conn, "POST", f"/{tenant_id}/oauth2/v2.0/token", b"grant_type=client_credentials",
             {"Content-Type": "application/x-www-form-urlencoded"}),  # 400 from Entra, body read in full
        call(conn, "GET", "/v1.0/organization", headers={"Authorization": "Bearer x"}),  # malformed fault
        call(conn, "GET", "/v1.0/domains", headers={"Authorization": "Bearer x"}),  # 302
        call(conn, "DELETE", "/_sandbox/faults"),  # 204
        call(conn, "GET", "/_sandbox/health"),
    ]
    assert [a.status for a in answers] == [200, 400, 404, 401, 400, 200, 302, 204, 200]
    assert all(a.getheader("Connection") is None for a in answers)
    assert all(a.getheader("Content-Length") is not None for a in answers if a.status != 204)
    assert sb.server.connections.accepted - before == 1
    conn.close()


def test_a_chunked_request_body_is_read_before_the_next_request(sb: Sandbox) -> None:
    conn = https(sb)
    before = sb.server.connections.accepted
    conn.request("POST", "/_sandbox/faults", body=iter([b'{"kind": "status", ', b'"status": 503}']),
                 headers={"Content-Type": "application/json"}, encode_chunked=True)
    created = conn.getresponse()
    assert created.status == 201 and json.loads(created.read())["status"] == 503
    assert call(conn, "GET", "/_sandbox/health").status == 200
    assert sb.server.connections.accepted - before == 1


def test_the_client_may_ask_to_close(sb: Sandbox) -> None:
    conn = https(sb)
    before = sb.server.connections.accepted
    first = call(conn, "GET", "/_sandbox/health", headers={"Connection": "close"})
    assert first.getheader("Connection") == "close"
    assert call(conn, "GET", "/_sandbox/health").status == 200  # http.client reconnects
    assert sb.server.connections.accepted - before == 2


def test_a_drop_fault_closes_the_connection_and_the_next_call_opens_another(sb: Sandbox) -> None:
    sb.state.faults.add("drop", service="graph")
    conn = https(sb)
    before = sb.server.connections.accepted
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        call(conn, "GET", "/v1.0/users")
    conn.close()
    assert call(conn, "GET", "/_sandbox/health").status == 200
    assert sb.server.connections.accepted - before == 2


@pytest.fixture
def closing(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path)
    sandbox.server.stop()
    sandbox.server = SandboxServer(sandbox.state, sandbox.ca, keep_alive=False).start()
    yield sandbox
    sandbox.stop()


def test_keep_alive_off_closes_every_connection_as_werkzeug_did(closing: Sandbox) -> None:
    conn = https(closing)
    answers = [call(conn, "GET", "/_sandbox/health") for _ in range(3)]
    assert [a.getheader("Connection") for a in answers] == ["close"] * 3
    assert closing.server.connections.accepted == 3


def test_the_slack_standin_keeps_connections_alive() -> None:
    with SlackStandin(bot_token=TOKEN) as standin:
        conn = http.client.HTTPConnection("127.0.0.1", urlsplit(standin.url).port, timeout=5)
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        answers = [
            call(conn, "POST", "/api/auth.test", b"{}", auth),
            call(conn, "POST", "/api/auth.test", b"{}", {"Content-Type": "application/json"}),  # not_authed
            call(conn, "POST", "/api/no.such.method", b"{}", auth),
            call(conn, "GET", "/nowhere"),  # 404
            call(conn, "POST", "/api/auth.test", b"{}", auth),
        ]
        assert [a.status for a in answers] == [200, 200, 200, 404, 200]
        assert all(a.getheader("Connection") is None for a in answers)
        assert standin.connections.accepted == 1
        assert standin.connections.requests == 5
        conn.close()


def test_stopping_a_server_closes_its_idle_kept_alive_connections() -> None:
    standin = SlackStandin(bot_token=TOKEN)
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(standin.url).port, timeout=5)
    assert call(conn, "GET", "/nowhere").status == 404
    standin.stop()
    assert conn.sock is not None and conn.sock.recv(1) == b""  # the server hung up; no thread left waiting
    conn.close()
