"""Scripted SMTP servers on 127.0.0.1 for the probe tests: an Exchange-like one and misbehaving ones."""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

HOST = "BN8PR12CA0032.namprd12.prod.outlook.com"
SUFFIX = f"[{HOST} 2026-11-28T10:00:00.000Z 08DE1A2B3C4D5E6F]"
AUTH_DISABLED_MAILBOX = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. "
    f"Visit https://aka.ms/smtp_auth_disabled for more information. {SUFFIX}"
)
XOAUTH2_ERROR = '{"status":"401","schemes":"bearer","scope":"https://outlook.office365.com/.default"}'


def server_context(cert_path: Path, key_path: Path, *, legacy_only: bool = False) -> ssl.SSLContext:
    """A server-side TLS context presenting this certificate; `legacy_only` speaks TLS 1.0 and 1.1 only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    if legacy_only:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def b64decode(text: str) -> str:
    return base64.b64decode(text).decode()


class Peer:
    """One accepted connection, seen from the server side."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())

    def line(self) -> str | None:
        """The next line without its CRLF, or None once the client has gone."""
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r").decode()

    def starttls(self, context: ssl.SSLContext) -> None:
        self.sock = context.wrap_socket(self.sock, server_side=True)

    def until_quit(self) -> None:
        """Answer QUIT with 221, ignore anything else."""
        while (line := self.line()) is not None:
            if line.upper() == "QUIT":
                self.send("221 2.0.0 Bye")
                return

    def wait_closed(self) -> None:
        """Never answer again: read and drop until the client hangs up."""
        while self.line() is not None:
            pass


class FakeServer:
    """Listens on 127.0.0.1 (ephemeral port) and runs `handler(peer)` in a thread per connection."""

    def __init__(
        self, handler: Callable[[Peer], None], *, implicit_tls: ssl.SSLContext | None = None
    ) -> None:
        self.handler = handler
        self.implicit_tls = implicit_tls
        self.errors: list[Exception] = []
        self._peers: list[Peer] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.02)
        self.port: int = self._listener.getsockname()[1]

    def __enter__(self) -> FakeServer:
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        for peer in list(self._peers):
            with contextlib.suppress(OSError):
                peer.sock.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(timeout=2)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            sock.settimeout(5)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        peer = Peer(sock)
        self._peers.append(peer)
        try:
            if self.implicit_tls is not None:
                peer.starttls(self.implicit_tls)
            self.handler(peer)
        except (OSError, ValueError) as exc:
            self.errors.append(exc)
        finally:
            peer.sock.close()


@dataclass
class Stats:
    """What an Exchange-like server saw: commands, messages, and the most connections at once per user."""

    commands: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    connections: int = 0
    active: Counter[str] = field(default_factory=Counter)
    most: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self, key: str) -> None:
        with self.lock:
            self.active[key] += 1
            self.most[key] = max(self.most[key], self.active[key])

    def leave(self, key: str) -> None:
        with self.lock:
            self.active[key] -= 1

    def verbs(self) -> list[str]:
        return [command.split(" ", 1)[0].upper() for command in self.commands]


@dataclass
class ExchangeLike:
    """Speaks like Exchange Online on 587: STARTTLS, then `AUTH LOGIN XOAUTH2`, then submission.

    `stats.most["*"]` is the most connections open at once, `stats.most[user]` the most per AUTH user
    (counted from the AUTH command to the end of the connection).
    """

    tls: ssl.SSLContext | None = None
    """Offer STARTTLS with this context; None offers no STARTTLS."""
    implicit: bool = False
    """The FakeServer does the TLS handshake on connect."""
    greeting: tuple[str, ...] = (f"220 {HOST} Microsoft ESMTP MAIL Service ready at Sat, 28 Nov 2026",)
    mechanisms: str = "LOGIN XOAUTH2"
    auth_before_tls: bool = False
    extra_ehlo: tuple[str, ...] = ()
    passwords: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    auth_reply: str | None = None
    """Sent instead of 235 when the credentials are right."""
    mail_reply: str = "250 2.1.0 Sender OK"
    rcpt_reply: str = "250 2.1.5 Recipient OK"
    data_reply: str = f"250 2.0.0 OK <abc@{HOST}> [Hostname={HOST}] Queued mail for delivery"
    stall_on: str | None = None
    """A command verb (e.g. "EHLO") after which the server never answers."""
    hold: float = 0.0
    """Seconds to wait before answering a correct AUTH, so that connections overlap."""
    stats: Stats = field(default_factory=Stats)

    def __call__(self, peer: Peer) -> None:
        self.stats.enter("*")
        user: str | None = None
        open_ = [True]

        def leave() -> None:
            if open_[0]:
                open_[0] = False
                self.stats.leave("*")
                if user is not None:
                    self.stats.leave(user)

        try:
            peer.send(*self.greeting)
            if not self.greeting[-1].startswith("220"):
                return
            secure, authenticated = self.implicit, False
            while (line := peer.line()) is not None:
                with self.stats.lock:
                    self.stats.commands.append(line)
                verb = line.split(" ", 1)[0].upper()
                if verb == self.stall_on:
                    peer.wait_closed()
                    return
                if verb == "EHLO":
                    peer.send(*self._ehlo(secure))
                elif verb == "HELO":
                    peer.send(f"250 {HOST} Hello [127.0.0.1]")
                elif verb == "STARTTLS" and self.tls is not None and not secure:
                    peer.send("220 2.0.0 SMTP server ready")
                    peer.starttls(self.tls)
                    secure = True
                elif verb == "AUTH" and (secure or self.auth_before_tls):
                    user, authenticated = self._auth(peer, line)
                elif verb == "AUTH":
                    peer.send(f"504 5.7.4 Unrecognized authentication type {SUFFIX}")
                elif verb == "MAIL":
                    peer.send(
                        self.mail_reply
                        if authenticated
                        else f"530 5.7.57 Client not authenticated to "
                        f"send mail. Error: 530 5.7.57 Client not authenticated to send mail {SUFFIX}"
                    )
                elif verb == "RCPT":
                    peer.send(self.rcpt_reply)
                elif verb == "DATA":
                    self._data(peer)
                elif verb == "QUIT":
                    # Counted closed before the 221: a client that got it may open its next connection at once.
                    leave()
                    peer.send("221 2.0.0 Service closing transmission channel")
                    return
                else:
                    peer.send("500 5.3.3 Unrecognized command")
        finally:
            leave()

    def _ehlo(self, secure: bool) -> list[str]:
        lines = [f"{HOST} Hello [127.0.0.1]", "SIZE 157286400", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES"]
        if self.tls is not None and not secure:
            lines.append("STARTTLS")
        if secure or self.auth_before_tls:
            lines.append(f"AUTH {self.mechanisms}")
        lines += ["8BITMIME", "BINARYMIME", "CHUNKING", *self.extra_ehlo, "SMTPUTF8"]
        return [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]

    def _auth(self, peer: Peer, line: str) -> tuple[str | None, bool]:
        """(the user, once known; whether AUTH succeeded)."""
        words = line.split(" ")
        mechanism = words[1].upper() if len(words) > 1 else ""
        if mechanism not in self.mechanisms.split():
            peer.send(f"504 5.7.4 Unrecognized authentication type {SUFFIX}")
            return None, False
        if mechanism == "PLAIN":
            _, user, secret = b64decode(words[2]).split("\0")
        elif mechanism == "LOGIN":
            peer.send("334 VXNlcm5hbWU6")
            user = b64decode(peer.line() or "")
            peer.send("334 UGFzc3dvcmQ6")
            secret = b64decode(peer.line() or "")
        else:
            fields = b64decode(words[2]).split("\x01")
            user, secret = fields[0].removeprefix("user="), fields[1].removeprefix("auth=Bearer ")
        user = user.lower()  # Exchange matches addresses without regard to case
        good = (self.tokens if mechanism == "XOAUTH2" else self.passwords).get(user) == secret
        self.stats.enter(user)
        if not good and mechanism == "XOAUTH2":
            peer.send("334 " + base64.b64encode(XOAUTH2_ERROR.encode()).decode())
            peer.line()
            peer.send(f"535 5.7.3 Authentication unsuccessful {SUFFIX}")
        elif not good:
            peer.send(
                f"535 5.7.139 Authentication unsuccessful, the user credentials were incorrect. {SUFFIX}"
            )
        else:
            time.sleep(self.hold)
            peer.send(self.auth_reply or "235 2.7.0 Authentication successful")
        return user, good and self.auth_reply is None

    def _data(self, peer: Peer) -> None:
        peer.send("354 Start mail input; end with <CRLF>.<CRLF>")
        lines = []
        while (line := peer.line()) not in (None, "."):
            lines.append(line)
        with self.stats.lock:
            self.stats.messages.append("\n".join(lines))
        peer.send(self.data_reply)


def scripted(*steps: str | None) -> Callable[[Peer], None]:
    """A handler that sends each string (CRLF added, `\\n` splits lines) and reads one line for each None.

    Then it answers QUIT with 221 and ignores anything else.
    """

    def handler(peer: Peer) -> None:
        for step in steps:
            if step is None:
                if peer.line() is None:
                    return
            else:
                peer.send(*step.split("\n"))
        peer.until_quit()

    return handler


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
