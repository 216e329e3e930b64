"""Cheap connections to Microsoft: one TLS context per CA bundle, proxies decided once, kept-alive pools."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import requests

from bot.m365 import http
from bot.m365.http import ProxyEnvironment, make_session
from bot.workflow.diagnose import diagnose

TIMEOUT = (5.0, 5.0)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every CA bundle load into any SSLContext, with the shared contexts forgotten first."""
    monkeypatch.setattr(http, "_contexts", {})
    seen: list[str] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, cafile: str | None = None, *args: object, **kwargs: object) -> None:
        seen.append(str(cafile))
        original(self, cafile, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    return seen


@pytest.fixture
def proxy() -> Iterator[list[bytes]]:
    """A loopback 'proxy' that records what each client sends first (a CONNECT line) and hangs up."""
    server = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                seen.append(conn.recv(1024))

    threading.Thread(target=accept, daemon=True).start()
    seen.append(f"http://127.0.0.1:{server.getsockname()[1]}".encode())
    yield seen
    server.close()


def test_new_connections_share_one_tls_context_and_load_the_ca_bundle_once(sandbox, loads):
    session = make_session(str(sandbox.ca_path), TIMEOUT, environ={})
    before = sandbox.server.connections.accepted
    for _ in range(3):  # the client asks to close, so each call needs a new TCP and TLS connection
        assert session.get(f"{sandbox.url}/_sandbox/health", headers={"Connection": "close"}).status_code == 200
    assert sandbox.server.connections.accepted - before == 3
    assert loads == [str(sandbox.ca_path)]

    for _ in range(3):  # requests on its own loads the bundle into a new context for every connection
        requests.get(f"{sandbox.url}/_sandbox/health", verify=str(sandbox.ca_path), timeout=5,
                     headers={"Connection": "close"})
    assert len(loads) == 4


def test_calls_reuse_one_kept_alive_connection(sandbox):
    session = make_session(str(sandbox.ca_path), TIMEOUT, environ={})
    before = sandbox.server.connections.accepted
    for _ in range(5):
        assert session.get(f"{sandbox.url}/_sandbox/health").status_code == 200
    assert sandbox.server.connections.accepted - before == 1


def test_a_diagnosis_reuses_connections(sandbox, make_m365):
    upns = [f"conn{n:02}@contoso.com" for n in range(10)]
    for upn in upns:
        sandbox.state.add_user("contoso", upn)
    m365 = make_m365()
    before = sandbox.server.connections.accepted
    assert all(r.error is None for r in diagnose(m365, upns))
    first = sandbox.server.connections.accepted - before
    calls = len(sandbox.state.requests)
    # the first diagnosis opens at most one connection per read it sends at once, never one per call ...
    assert calls >= 6 and 1 <= first < calls, (first, calls)
    # ... and a second one finds them alive: it opens a new one only where it sends more reads at once than
    # the first did, so both together cost at most one connection per two calls
    assert all(r.error is None for r in diagnose(m365, upns))
    total, accepted = len(sandbox.state.requests), sandbox.server.connections.accepted - before
    assert total > calls + 5 and accepted <= total // 2, (accepted, total)


def test_the_configured_bundle_wins_over_requests_ca_bundle(sandbox, loads):
    session = make_session(str(sandbox.ca_path), TIMEOUT, environ={"REQUESTS_CA_BUNDLE": "/nonexistent.pem"})
    assert session.get(f"{sandbox.url}/_sandbox/health").status_code == 200


def test_proxies_are_read_when_the_session_is_made(sandbox, proxy, monkeypatch):
    proxy_url = proxy.pop(0).decode()
    environ = {"HTTPS_PROXY": proxy_url}
    through_proxy = make_session(str(sandbox.ca_path), TIMEOUT, environ=environ)
    environ.clear()  # too late: the session decided at start
    with pytest.raises(requests.ConnectionError):
        through_proxy.get(f"{sandbox.url}/_sandbox/health")
    assert proxy and proxy[0].startswith(f"CONNECT localhost:{sandbox.server.port}".encode())

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    direct = make_session(str(sandbox.ca_path), TIMEOUT)
    monkeypatch.setenv("HTTPS_PROXY", proxy_url)  # set after start: not read again
    assert direct.get(f"{sandbox.url}/_sandbox/health").status_code == 200
    assert len(proxy) == 1


def test_no_proxy_bypasses_the_proxy(sandbox, proxy):
    proxy_url = proxy.pop(0).decode()
    session = make_session(str(sandbox.ca_path), TIMEOUT, environ={"HTTPS_PROXY": proxy_url, "NO_PROXY": "localhost"})
    assert session.get(f"{sandbox.url}/_sandbox/health").status_code == 200
    assert proxy == []


@pytest.mark.parametrize(
    ("environ", "url", "expected"),
    [
        ({"HTTPS_PROXY": "http://p:3128"}, "https://graph.microsoft.com/v1.0", {"https": "http://p:3128"}),
        ({"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:1"}, "https://x.com/", {"https": "http://low:1"}),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".microsoft.com"}, "https://graph.microsoft.com/", {}),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "microsoft.com"}, "https://graph.microsoft.com/", {}),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "microsoft.com"}, "https://notmicrosoft.com/",
         {"https": "http://p:1"}),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3/", {}),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://11.1.2.3/", {"https": "http://p:1"}),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "localhost:8443"}, "https://localhost:8443/", {}),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://graph.microsoft.com/", {}),
        ({"ALL_PROXY": "http://p:1", "NO_PROXY": ""}, "https://graph.microsoft.com/", {"all": "http://p:1"}),
        ({}, "https://graph.microsoft.com/", {}),
    ],
)
def test_proxy_environment_semantics(environ, url, expected):
    assert ProxyEnvironment(environ).for_url(url) == expected
