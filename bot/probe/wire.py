"""SMTP on a socket: lines read under a phase deadline, replies parsed strictly, a redacting transcript."""

from __future__ import annotations

import base64
import re
import socket
import ssl
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.clock import Clock


def _log() -> Any:
    """The probe's logger, or None when nothing could be listening: a process that never imported `logging`
    (a one-off `python -m bot probe` with a password) has no handler, and the INFO and DEBUG records the probe
    writes would go nowhere anyway (`logging.lastResort` takes WARNING and above). Keeps `logging` out of it."""
    logging = sys.modules.get("logging")
    return logging.getLogger("bot.probe") if logging is not None else None

MAX_LINE = 4096
"""Longest reply line accepted, in bytes (RFC 5321 asks for 512; some servers send more)."""
MAX_LINES = 100
"""Most lines accepted in one multi-line reply."""
REDACTED = "<redacted>"

_REPLY_LINE = re.compile(r"([2-5]\d\d)(?:([ -])(.*))?", re.DOTALL)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ProtocolError(Exception):
    """The server sent something that is not SMTP."""


class ServerClosed(Exception):
    """The server closed the connection."""


@dataclass(frozen=True)
class SmtpReply:
    """One complete reply: its code and its lines as received."""

    code: int
    lines: tuple[str, ...]

    @property
    def raw(self) -> str:
        return "\n".join(self.lines)

    @property
    def texts(self) -> list[str]:
        """Each line without its code and separator."""
        return [line[4:] for line in self.lines]


class Redactor:
    """Replaces every secret, and its base64 form, with <redacted>."""

    def __init__(self) -> None:
        self._secrets: list[str] = []

    def add(self, *secrets: str) -> None:
        for secret in secrets:
            if secret:
                self._secrets += [secret, b64(secret)]
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class Transcript:
    """The dialogue so far, redacted as it is recorded, and logged at DEBUG."""

    def __init__(self, redact: Redactor, label: str) -> None:
        self.redact = redact
        self.label = label
        self.entries: list[tuple[str, str]] = []

    def add(self, direction: str, line: str) -> None:
        line = self.redact(line)
        self.entries.append((direction, line))
        if (log := _log()) is not None:
            log.debug("%s %s %s", self.label, direction, line)


class Connection:
    """A socket with a read buffer; every read and write must finish before the current phase's deadline."""

    def __init__(self, sock: socket.socket, transcript: Transcript, clock: Clock) -> None:
        self.sock = sock
        self.transcript = transcript
        self._clock = clock
        self._buffer = bytearray()
        self._deadline = 0.0

    def set_deadline(self, seconds: float) -> None:
        self._deadline = self._clock.monotonic() + seconds

    def _arm(self) -> None:
        remaining = self._deadline - self._clock.monotonic()
        if remaining <= 0:
            raise TimeoutError("phase deadline passed")
        self.sock.settimeout(remaining)

    def send(self, line: str, shown: str | None = None) -> None:
        """Send one command; the transcript records `shown` instead when the line holds a credential."""
        self.transcript.add("C", line if shown is None else shown)
        self.send_raw((line + "\r\n").encode())

    def send_raw(self, data: bytes) -> None:
        self._arm()
        self.sock.sendall(data)

    def read_reply(self) -> SmtpReply:
        """Read `NNN-text` lines up to the `NNN text` (or bare `NNN`) line that ends the reply."""
        lines: list[str] = []
        while True:
            line = self._read_line()
            self.transcript.add("S", line)
            match = _REPLY_LINE.fullmatch(line)
            if match is None:
                raise ProtocolError(f"not an SMTP reply line: {line[:80]!r}")
            if lines and match.group(1) != lines[0][:3]:
                raise ProtocolError(f"reply line with code {match.group(1)} continues a {lines[0][:3]} reply")
            lines.append(line)
            if match.group(2) != "-":
                return SmtpReply(int(match.group(1)), tuple(lines))
            if len(lines) >= MAX_LINES:
                raise ProtocolError(f"reply longer than {MAX_LINES} lines")

    def _read_line(self) -> str:
        while True:
            end = self._buffer.find(b"\n")
            if end > MAX_LINE or (end < 0 and len(self._buffer) > MAX_LINE):
                raise ProtocolError(f"reply line longer than {MAX_LINE} bytes")
            if end >= 0:
                line = bytes(self._buffer[:end]).rstrip(b"\r")
                del self._buffer[: end + 1]
                return line.decode("utf-8", "replace")
            self._arm()
            chunk = self.sock.recv(8192)
            if not chunk:
                raise ServerClosed("the server closed the connection")
            self._buffer += chunk

    def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> ssl.SSLSocket:
        """Handshake on the socket. Plain text already buffered would be injected into the TLS session."""
        if self._buffer:
            raise ProtocolError("the server sent data after its STARTTLS reply, before the TLS handshake")
        self._arm()
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        return self.sock

    def close(self) -> None:
        self.sock.close()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def certificate_time(text: str) -> datetime:
    """A certificate's `notAfter` as `getpeercert()` gives it ("Jan  5 09:00:00 2027 GMT"), in UTC.

    What `ssl.cert_time_to_seconds` reads, without the `time.strptime` machinery it loads (a few
    milliseconds of a probe's start-up). Raises ValueError for any other form.
    """
    try:
        month, day, clock, year, zone = text.split()
        hour, minute, second = clock.split(":")
        if zone != "GMT":
            raise ValueError(zone)
        return datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second),
                        tzinfo=UTC)
    except ValueError:
        raise ValueError(f"not a certificate time: {text!r}") from None
