"""HTTP/1.1 keep-alive for the sandbox's werkzeug servers, as Microsoft and Slack answer.

werkzeug's development server sends `Connection: close` on every response (it cannot drain a request
body before the next request line), so every call through it costs a new TCP (and TLS) handshake.
Graph, Exchange Online and Slack keep connections open. This handler reads each request body in full
before answering, answers with a Content-Length (none on 1xx/204/304, where HTTP forbids a body), and
closes only when the client asks (`Connection: close`, HTTP/1.0 without keep-alive), when a fault drops
the connection, or when the server runs with `keep_alive=False` (the old behaviour, for benches).
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger("sandbox.server")

#: Set to True in the WSGI environ by an app that wants the connection dropped without an answer.
DROP = "sandbox.drop_connection"
#: Seconds an idle kept-alive connection stays open (Azure Front Door keeps idle ones for minutes).
IDLE_TIMEOUT = 120.0
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


class ConnectionStats:
    """What a server counts: TCP connections accepted and requests answered (tests and benches read it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.requests = 0
        self._open: set[socket.socket] = set()

    def opened(self, conn: socket.socket) -> None:
        with self._lock:
            self.accepted += 1
            self._open.add(conn)

    def closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)

    def answered(self) -> None:
        with self._lock:
            self.requests += 1

    def reset(self) -> None:
        with self._lock:
            self.accepted = self.requests = 0

    def close_all(self) -> None:
        """Shut every open connection, so a stopped server leaves no handler thread waiting on a client."""
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class QuietHandler(WSGIRequestHandler):
    """The sandbox servers' request handler: HTTP/1.1 keep-alive, request lines logged at DEBUG.

    TCP_NODELAY: headers and body are written separately, and Nagle's algorithm would hold the body back.
    """

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _stats(self.server).opened(self.connection)

    def finish(self) -> None:
        _stats(self.server).closed(self.connection)
        super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug('"%s" %s', self.requestline, code)

    def log(self, type: str, message: str, *args: Any) -> None:
        log.log(logging.WARNING if type == "error" else logging.DEBUG, message.rstrip(), *args)

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        body = self._read_body(environ)
        if body is None:
            self._send(400, "Bad Request", [("Content-Type", "text/plain; charset=utf-8")], b"Bad request body")
            self.close_connection = True
            return
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.input_terminated"] = True
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        status, headers, content = self._call_app(environ)
        _stats(self.server).answered()
        if environ.get(DROP):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        code, _, phrase = status.partition(" ")
        try:
            self._send(int(code), phrase, headers, content)
        except (TimeoutError, ConnectionError, ssl.SSLError):
            self.close_connection = True

    def _read_body(self, environ: dict[str, Any]) -> bytes | None:
        """The whole request body (chunked or by Content-Length), so the next request starts cleanly."""
        try:
            if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's DechunkedInput reads to the end
                return environ["wsgi.input"].read()
            length = environ.get("CONTENT_LENGTH") or "0"
            if not length.isdigit():
                return None
            body = self.rfile.read(int(length))
        except (OSError, ValueError):
            return None
        return body if len(body) == int(length) else None

    def _call_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., None]:
            started[:] = [status, headers]
            return lambda data: None  # no app here uses the legacy write callable

        try:
            result: Iterable[bytes] = self.server.app(environ, start_response)
            try:
                content = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            return started[0], started[1], content
        except Exception:
            if self.server.passthrough_errors:
                raise
            log.exception("error on request %s", self.requestline)
            error = InternalServerError()
            return f"{error.code} {error.name}", [("Content-Type", "text/html; charset=utf-8")], (
                error.get_body().encode()
            )

    def _send(self, code: int, phrase: str, headers: list[tuple[str, str]], content: bytes) -> None:
        self.send_response(code, phrase)
        no_body = code < 200 or code in (204, 304)
        head = self.command == "HEAD"
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP or (head and key.lower() == "content-length"):
                self.send_header(key, value)
        if not no_body and not head:
            self.send_header("Content-Length", str(len(content)))
        if not getattr(self.server, "keep_alive", True) or self.close_connection:
            self.send_header("Connection", "close")
        elif self.request_version == "HTTP/1.0":
            self.send_header("Connection", "keep-alive")
        self.end_headers()
        if content and not no_body and not head:
            self.wfile.write(content)


def serve(
    host: str,
    port: int,
    app: Any,
    *,
    ssl_context: ssl.SSLContext | None = None,
    keep_alive: bool = True,
) -> BaseWSGIServer:
    """A threaded werkzeug server with the keep-alive handler; `server.stats` counts its connections."""
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler, ssl_context=ssl_context)
    server.keep_alive = keep_alive  # type: ignore[attr-defined]
    server.stats = ConnectionStats()  # type: ignore[attr-defined]
    return server


def _stats(server: Any) -> ConnectionStats:
    stats = getattr(server, "stats", None)
    if stats is None:
        stats = server.stats = ConnectionStats()
    return stats
