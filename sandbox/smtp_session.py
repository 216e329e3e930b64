"""One connection to the Exchange Online SMTP submission stand-in (aiosmtpd): STARTTLS, AUTH, MAIL, DATA.

It looks like `smtp.office365.com:587`: Exchange's greeting, EHLO lists and wording, with the
`[host timestamp session-id]` suffix on error replies (timestamps from the sandbox clock). AUTH is
answered from the sandbox tenants' state at that moment (`sandbox.smtp_auth` gives the order),
so a change made through the sandbox's HTTP API shows on the next AUTH. Choices where Exchange's
behaviour is not documented:

* AUTH before STARTTLS gets `504 5.7.4 Unrecognized authentication type` (EHLO offers no AUTH then).
* MAIL FROM without a successful AUTH, with or without TLS, gets `530 5.7.57 Client not authenticated
  to send mail`; after a failed AUTH Exchange appends that AUTH's reply (`... mail. Error: 535 ...`).
* The per-mailbox connection limit is checked at AUTH, once the mailbox is known; a slot is held by an
  authenticated connection until it closes.

Passwords and tokens are used for the decision and dropped: the session records, the accepted
messages and aiosmtpd's own log (which masks AUTH arguments) never hold them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import functools
import logging
import random
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC
from email.parser import BytesHeaderParser
from email.utils import format_datetime
from typing import TYPE_CHECKING

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, TLSSetupException

from sandbox.smtp_auth import SUCCESS, basic_reply, oauth_reply, record_sign_in
from sandbox.smtp_records import GARBAGE, SmtpFaults, SmtpMessage, SmtpSession

if TYPE_CHECKING:
    from sandbox.smtp import SmtpServer

log = logging.getLogger(__name__)

MAX_SIZE = 157286400
#: Longest command or DATA line accepted; XOAUTH2 initial responses carry a whole access token.
MAX_LINE = 16384
SITES = ("BN8", "CH2", "DM6", "MW4", "SN7", "SA1", "PH0", "CY4")
SERVER_ERROR = "451 4.7.0 Temporary server error. Please try again later. PRX4"
REFUSED = "421 4.3.2 Service not available, closing transmission channel"
THREAD_LIMIT = "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded"
NOT_OFFERED = "504 5.7.4 Unrecognized authentication type"
INVALID_XOAUTH2 = "501 5.5.124 Invalid XOAUTH2 auth data"
NOT_AUTHENTICATED = "530 5.7.57 Client not authenticated to send mail"
SEND_AS_DENIED = "550 5.7.60 SMTP; Client does not have permissions to send as this sender"
XOAUTH2_BLOB = re.compile(r"user=([^\x01]+)\x01auth=Bearer ([^\x01]+)\x01\x01")
#: aiosmtpd's stock replies -> Exchange Online's.
STOCK_REPLIES = {
    "220 Ready to start TLS": "220 2.0.0 SMTP server ready",
    "354 End data with <CR><LF>.<CR><LF>": "354 Start mail input; end with <CRLF>.<CRLF>",
    "503 Error: send HELO first": "503 5.5.2 Send hello first",
    "503 Error: need MAIL command": "503 5.5.2 Need mail command",
    "503 Error: need RCPT command": "503 5.5.2 Need rcpt command",
    "503 Error: nested MAIL command": "503 5.5.2 Sender already specified",
    "553 5.1.3 Error: malformed address": "501 5.1.7 Invalid address",
    "501 5.5.2 Can't decode base64": "501 5.5.2 Cannot Decode response",
    "501 Syntax: STARTTLS": "501 5.5.4 Invalid arguments",
}
UNKNOWN_COMMAND = re.compile(r'500 Error: command "(.*)" not recognized')


class ExchangeSmtp(SMTP):
    """One client connection, speaking as an Exchange Online front end (handler hooks live here too)."""

    line_length_limit = MAX_LINE

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        site, pod, unit = random.choice(SITES), random.randint(1, 20), random.randint(1, 9999)
        self.short_name = f"{site}PR{pod:02d}CA{unit:04d}"
        self.fqdn = f"{self.short_name}.namprd{pod:02d}.prod.outlook.com"
        self.mailbox_server = (
            f"{site}PR{pod:02d}MB{random.randint(1, 9999):04d}.namprd{pod:02d}.prod.outlook.com"
        )
        self.session_id = "08DE" + secrets.token_hex(6).upper()
        self.record: SmtpSession | None = None
        self.phase = "greeting"
        self.commands = 0
        self.garbled = False
        self.mailbox: str | None = None
        self.slot: str | None = None
        self.failed_auth: str | None = None
        now = server.state.clock.now()
        super().__init__(
            self,
            hostname=f"{self.short_name}.outlook.office365.com",
            ident=f"Microsoft ESMTP MAIL Service ready at {format_datetime(now)}",
            tls_context=server.tls_context,
            data_size_limit=MAX_SIZE,
            enable_SMTPUTF8=True,
            loop=server.loop,
        )
        self.command_size_limit = MAX_LINE
        self.command_size_limits = collections.defaultdict(lambda: MAX_LINE)
        self._smtp_methods = {
            name: functools.partial(self._command, name.lower(), method)
            for name, method in self._smtp_methods.items()
        }

    @property
    def faults(self) -> SmtpFaults:
        return self.server.state.smtp_faults

    # --- connection ---------------------------------------------------------------------------------

    async def _handle_client(self) -> None:
        assert self.session is not None and self.transport is not None
        host, port = self.session.peer[:2]
        self.record = SmtpSession(self.session_id, f"{host}:{port}", self.server.state.clock.now())
        with self.server.state.lock:
            self.server.state.smtp_sessions.append(self.record)
        if self.faults.take_refusal():
            self.record.faults.append("refused")
            await self.push(self.error(REFUSED))
            self.transport.close()
            return
        if self.faults.drop_after == "greeting":
            self.drop()
            return
        await super()._handle_client()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._tls_protocol is None:
            self.server.connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.server.connections.discard(self)
        self.server.release(self.slot)
        self.slot = None
        super().connection_lost(error)

    async def _command(
        self, phase: str, method: Callable[[str | None], Awaitable[None]], arg: str | None
    ) -> None:
        """Every command passes here: `drop_after` faults, then the command itself."""
        self.phase = phase
        self.commands += 1
        drop = self.faults.drop_after
        if drop == phase or (type(drop) is int and self.commands > drop):
            self.drop()
            return
        await method(arg)

    def drop(self) -> None:
        assert self.record is not None and self.transport is not None
        self.record.faults.append("dropped")
        self.transport.abort()

    async def push(self, status: str | bytes) -> None:
        """Send a reply in Exchange's words, after `reply_delay`, or the garbage line when its phase comes."""
        text = status.decode("ascii") if isinstance(status, bytes) else status
        text = STOCK_REPLIES.get(text, text)
        text = UNKNOWN_COMMAND.sub(r"500 5.3.3 Unrecognized command '\1'", text)
        delay = self.faults.reply_delay
        if delay > 0:
            await asyncio.sleep(delay)
        if self.faults.garbage == self.phase and not self.garbled:
            assert self.record is not None
            self.garbled = True
            self.record.faults.append("garbage")
            self._writer.write(GARBAGE + b"\r\n")
            await self._writer.drain()
            return
        await super().push(text)

    async def handle_exception(self, error: Exception) -> str:
        """A failed TLS handshake (aiosmtpd then closes) or a bug in the stand-in: a transient error."""
        if isinstance(error, TLSSetupException):
            log.info("SMTP session %s: TLS handshake failed: %s", self.session_id, error.__cause__)
        else:
            log.warning("SMTP session %s failed", self.session_id, exc_info=error)
        return self.error(SERVER_ERROR)

    def error(self, reply: str) -> str:
        """`reply` with Exchange's suffix: front-end host, time (sandbox clock) and session id."""
        now = self.server.state.clock.now().astimezone(UTC)
        stamp = f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"
        return f"{reply} [{self.fqdn} {stamp} {self.session_id}]"

    # --- commands -----------------------------------------------------------------------------------

    async def smtp_EHLO(self, hostname: str | None) -> None:
        if not hostname:
            await self.push("501 5.5.4 Invalid domain name")
            return
        assert self.session is not None
        self._set_rset_state()
        self.session.extended_smtp = True
        self.session.host_name = hostname
        if self._tls_protocol is None:
            middle = "STARTTLS"
        else:
            middle = "AUTH LOGIN PLAIN XOAUTH2" if self.faults.advertise_plain else "AUTH LOGIN XOAUTH2"
        lines = [
            f"{self.hostname} Hello [{self.session.peer[0]}]",
            f"SIZE {MAX_SIZE}",
            "PIPELINING",
            "DSN",
            "ENHANCEDSTATUSCODES",
            middle,
            "8BITMIME",
            "BINARYMIME",
            "CHUNKING",
            "SMTPUTF8",
        ]
        await self.push("\r\n".join(f"250-{line}" for line in lines[:-1]) + f"\r\n250 {lines[-1]}")

    async def smtp_STARTTLS(self, arg: str | None) -> None:
        if self._tls_protocol is not None:
            await self.push("503 5.5.1 Bad sequence of commands")
            return
        await super().smtp_STARTTLS(arg)
        if self._tls_protocol is not None and self.record is not None:
            self.record.tls_version = self.transport.get_extra_info("ssl_object").version()

    async def smtp_AUTH(self, arg: str | None) -> None:
        assert self.session is not None and self.record is not None
        mechanism, _, initial = (arg or "").strip().partition(" ")
        mechanism = mechanism.upper()
        if self._tls_protocol is None or mechanism not in ("LOGIN", "PLAIN", "XOAUTH2"):
            await self.push(self.error(NOT_OFFERED))
            return
        if not self.session.host_name:
            await self.push("503 5.5.2 Send hello first")
            return
        if self.mailbox is not None:
            await self.push("503 5.5.2 Already authenticated")
            return
        self.record.mechanism = mechanism
        credentials = await self._credentials(mechanism, initial.strip())
        if credentials is None:
            return
        address, secret = credentials
        self.record.mailbox = address.lower()
        if not self.server.claim(address):
            self.record.faults.append("limit")
            await self._auth_result(f"{THREAD_LIMIT} [Hostname={self.mailbox_server}]")
            return
        decide = oauth_reply if mechanism == "XOAUTH2" else basic_reply
        reply = decide(self.server.state, address, secret)
        if mechanism != "XOAUTH2":
            record_sign_in(self.server.state, address, reply, str(self.session.peer[0]))
        if reply == SUCCESS:
            self.mailbox, self.slot = address, address.lower()
            self.session.authenticated = True
            self.failed_auth = None
            await self._auth_result(reply)
            return
        self.server.release(address)
        self.failed_auth = reply
        await self._auth_result(self.error(reply))

    async def _auth_result(self, reply: str) -> None:
        assert self.record is not None
        self.record.result = " ".join(reply.split()[:2])
        await self.push(reply)

    async def _credentials(self, mechanism: str, initial: str) -> tuple[str, str] | None:
        """(mailbox, password or token) from the client, or None once a syntax error has been answered."""
        if mechanism == "LOGIN":
            user = await self._response(initial, "Username:")
            password = None if user is None else await self._response("", "Password:")
            return None if user is None or password is None else (user, password)
        if mechanism == "PLAIN":
            blob = await self._response(initial, "")
            parts = None if blob is None else blob.split("\0")
            if parts is not None and len(parts) != 3:
                await self.push("501 5.5.2 Cannot Decode response")
                return None
            return None if parts is None else (parts[1], parts[2])
        blob = await self._response(initial, "", malformed=self.error(INVALID_XOAUTH2))
        match = None if blob is None else XOAUTH2_BLOB.fullmatch(blob)
        if blob is not None and match is None:
            await self.push(self.error(INVALID_XOAUTH2))
        return None if match is None else (match[1], match[2])

    async def _response(self, initial: str, challenge: str, malformed: str | None = None) -> str | None:
        """The initial response, or the answer to a `334` challenge, decoded; None once refused."""
        if initial:
            try:
                return base64.b64decode(initial, validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                await self.push(malformed or STOCK_REPLIES["501 5.5.2 Can't decode base64"])
                return None
        answer = await self.challenge_auth(challenge)
        return None if answer is MISSING else answer.decode("utf-8", "replace")

    async def smtp_HELO(self, hostname: str | None) -> None:
        if not hostname:
            await self.push("501 5.5.4 Invalid domain name")
            return
        assert self.session is not None
        self._set_rset_state()
        self.session.extended_smtp = False
        self.session.host_name = hostname
        await self.push(f"250 {self.hostname} Hello [{self.session.peer[0]}]")

    # --- aiosmtpd handler hooks (called as hook(server, session, envelope, ...)) ----------------------

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.mailbox is None:
            error = NOT_AUTHENTICATED + (f". Error: {self.failed_auth}" if self.failed_auth else "")
            return self.error(error)
        if address.lower() != self.mailbox.lower():
            return self.error(SEND_AS_DENIED)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert self.record is not None and self.mailbox is not None and envelope.mail_from is not None
        content = envelope.original_content or b""
        headers = BytesHeaderParser().parsebytes(content)
        message_id = (headers["Message-ID"] or "").strip() or f"<{uuid.uuid4()}@{self.mailbox_server}>"
        message = SmtpMessage(
            session=self.session_id,
            mailbox=self.mailbox.lower(),
            mail_from=envelope.mail_from,
            recipients=tuple(envelope.rcpt_tos),
            subject=headers["Subject"],
            message_id=message_id,
            size=len(content),
            received=self.server.state.clock.now(),
        )
        with self.server.state.lock:
            self.server.state.smtp_messages.append(message)
        self.record.messages += 1
        self.phase = "message"
        return f"250 2.0.0 OK {message_id} [Hostname={self.mailbox_server}]"

    async def handle_RSET(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 2.0.0 Resetting"

    async def handle_NOOP(self, server: SMTP, session: Session, envelope: Envelope, arg: str | None) -> str:
        return "250 2.0.0 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "221 2.0.0 Service closing transmission channel"
