"""The door of /slack/events: what Slack would never send is refused before Bolt parses or logs it."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

#: Libraries that log requests verbatim (Bolt logs a badly signed body at INFO); kept at WARNING.
VERBOSE_LIBRARIES = ("slack_bolt", "urllib3")
CHUNK = 64 * 1024
CLIP = 64
TIMESTAMP = re.compile(r"[0-9]{1,10}")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
MAX_DIGITS = 15  # int() of a longer string costs more than it can mean


@dataclass(frozen=True)
class Refusal:
    """An answer given instead of Bolt's, and why (for the log)."""

    status: str
    body: bytes
    reason: str


def too_large(limit: int) -> Refusal:
    return Refusal("413 Request Entity Too Large", b'{"error": "request body too large"}',
                   f"body over {limit} bytes")


BAD_LENGTH = Refusal("400 Bad Request", b'{"error": "bad Content-Length"}', "Content-Length is not a number")
UNSIGNED = b'{"error": "invalid request"}'  # Bolt's own 401 body
MALFORMED = Refusal("401 Unauthorized", UNSIGNED, "malformed signature or timestamp")
FORGED = Refusal("401 Unauthorized", UNSIGNED, "signature does not match, or timestamp out of window")


def quiet_verbose_libraries() -> logging.Logger:
    """Pin the request-logging libraries at WARNING whatever the bot's level; Bolt's logger, to pass to App."""
    for name in VERBOSE_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    return logging.getLogger("slack_bolt")


def clip(value: object, limit: int = CLIP) -> str:
    """`value` for a log line: repr'd, at most `limit` characters, so untrusted input stays bounded."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


class SlackDoor:
    """Lets Bolt have only requests Slack signed, with bodies of at most `limit` bytes (buffered for it).

    Checks in order of cost: the declared length (413), the signature headers' form (401), the body read
    up to `limit` + 1 bytes (413), then the signature itself (401), so Bolt never parses or logs a forgery.
    """

    def __init__(self, signing_secret: str, limit: int) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.limit = limit

    def check(self, environ: dict[str, Any]) -> Refusal | None:
        """None when Bolt may have the request (its body then buffered in `environ`), else the refusal."""
        refusal = self._refuse(environ)
        if refusal is not None:
            log.info("refused %s %s: %s (Content-Length %s, timestamp %s)", environ.get("REQUEST_METHOD"),
                     clip(environ.get("PATH_INFO")), refusal.reason, clip(environ.get("CONTENT_LENGTH")),
                     clip(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")))
        return refusal

    def _refuse(self, environ: dict[str, Any]) -> Refusal | None:
        declared = environ.get("CONTENT_LENGTH") or "0"
        if not (declared.isascii() and declared.isdigit()):
            return BAD_LENGTH
        if len(declared) > MAX_DIGITS or int(declared) > self.limit:
            return too_large(self.limit)
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not (TIMESTAMP.fullmatch(timestamp) and SIGNATURE.fullmatch(signature)):
            return MALFORMED
        body = read_body(environ, int(declared), self.limit + 1)
        if len(body) > self.limit:
            return too_large(self.limit)
        if not self.verifier.is_valid(body, timestamp, signature):
            return FORGED
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return None


def read_body(environ: dict[str, Any], declared: int, most: int) -> bytes:
    """At most `most` bytes of the body: to its end when the server bounds the stream (chunked bodies, a
    Content-Length it enforces), else the declared length, since reading past it would wait for the client."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    wanted = most if environ.get("wsgi.input_terminated") else min(declared, most)
    parts: list[bytes] = []
    got = 0
    while got < wanted:
        part = stream.read(min(CHUNK, wanted - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)
