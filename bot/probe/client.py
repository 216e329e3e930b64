"""`probe()`: one SMTP AUTH session, phase by phase, ending in a classified `ProbeResult` (never raising)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.diagnosis.reply import parse_reply
from bot.errors import BotError
from bot.probe.model import Credential, ProbeReply, ProbeResult, ProbeTarget
from bot.probe.outcome import BEFORE_AUTH, FALLBACK_CAUSES, NOT_TLS, VERIFY_DETAILS, Stop, is_exchange_online
from bot.probe.vocabulary import MECHANISMS
from bot.probe.wire import (
    REDACTED,
    Connection,
    ProtocolError,
    Redactor,
    ServerClosed,
    SmtpReply,
    Transcript,
    b64,
    certificate_time,
)


def _log() -> Any:
    """The probe's logger, or None when nothing could be listening: a process that never imported `logging`
    (a one-off `python -m bot probe` with a password) has no handler, and the INFO and DEBUG records the probe
    writes would go nowhere anyway (`logging.lastResort` takes WARNING and above). Keeps `logging` out of it."""
    logging = sys.modules.get("logging")
    return logging.getLogger("bot.probe") if logging is not None else None

def probe(target: ProbeTarget, *, credential: Credential = None, clock: Clock = SYSTEM_CLOCK) -> ProbeResult:
    """Run one probe. Server misbehaviour of any kind comes back as a result with a cause, never raised.

    `credential` is the password (login, plain) or the token (xoauth2), or a callable returning it; it is
    used once and kept nowhere, and it is redacted (as is its base64 form) from everything recorded.
    """
    return _Probe(target, clock).run(credential)


class _Probe:
    def __init__(self, target: ProbeTarget, clock: Clock) -> None:
        self.target = target
        self.clock = clock
        self.redact = Redactor()
        self.transcript = Transcript(self.redact, target.name or target.mailbox)
        self.conn: Connection | None = None
        self.phase = "credential"
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []
        self.mechanisms: tuple[str, ...] = ()
        self.extensions: set[str] = set()
        self.last_reply: SmtpReply | None = None
        self.tls_version: str | None = None
        self.tls_cipher: str | None = None
        self.not_after: datetime | None = None
        self.submitted = False

    def run(self, credential: Credential) -> ProbeResult:
        started_at, start = self.clock.now(), self.clock.monotonic()
        polite = False
        try:
            self._session(credential)
            polite = True
            outcome = Stop("ok", self._success_message())
        except Stop as stop:
            outcome, polite = stop, stop.polite
        except TimeoutError:
            outcome = Stop("timeout", self._timeout_message())
        except ProtocolError as exc:
            outcome = Stop("protocol_error", f"{exc} (in {self.phase})")
        except (ServerClosed, ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            outcome = Stop("server_closed", f"the server closed the connection during {self.phase}")
        except OSError as exc:
            outcome = Stop("connection_failed", f"network error during {self.phase}: {exc.strerror or exc}")
        if self.conn is not None:
            if polite and (outcome.reply is None or outcome.reply.code != 421):
                self._quit()
            self.conn.close()
        result = self._result(outcome, started_at, round((self.clock.monotonic() - start) * 1000, 1))
        if (log := _log()) is not None:
            log.info("probe %s: %s in %s (%s)", result.name or result.mailbox, result.cause, result.phase,
                     result.message)
        return result

    # --- phases -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        self.phase = name
        start = self.clock.monotonic()
        if self.conn is not None:
            self.conn.set_deadline(self.target.timeout)
        try:
            yield
        finally:
            self.timings[name] = round((self.clock.monotonic() - start) * 1000, 1)

    def _session(self, credential: Credential) -> None:
        target = self.target
        if target.tls == "implicit":
            self.notes.append(
                "implicit TLS: fine for other servers, but Exchange Online accepts SMTP AUTH only with "
                "STARTTLS on port 587"
            )
            if is_exchange_online(target.host):
                self.phase = "connect"
                raise Stop(
                    "implicit_tls_unsupported",
                    f"{target.host} is Exchange Online, which has no implicit TLS; use STARTTLS on port 587",
                    polite=False,
                )
        secret = self._secret(credential) if target.auth != "none" else ""
        context = self._tls_context() if target.tls != "none" else None
        with self._phase("connect"):
            self.conn = Connection(self._connect(), self.transcript, self.clock)
        if context is not None and target.tls == "implicit":
            self._handshake(context)
        with self._phase("greeting"):
            self._expect(self._read(), 220)
        self._ehlo("ehlo")
        if context is not None and target.tls == "starttls":
            with self._phase("starttls"):
                if "STARTTLS" not in self.extensions:
                    raise Stop("no_starttls", f"{target.host}:{target.port} does not offer STARTTLS")
                self.conn.send("STARTTLS")
                self._expect(self._read(), 220)
            self._handshake(context)
            self._ehlo("ehlo_tls")
        if context is None and target.auth != "none":
            self.notes.append("TLS not used: the credentials crossed the network unencrypted")
        if target.auth != "none":
            with self._phase("auth"):
                self._authenticate(secret)
        if target.auth == "none" or target.submit_to:
            self._submit()

    def _secret(self, credential: Credential) -> str:
        what = "token" if self.target.auth == "xoauth2" else "password"
        with self._phase("credential"):
            try:
                secret = credential() if callable(credential) else credential
            except BotError as exc:
                message = f"could not get the {what}: {exc.message}"
                raise Stop("credential_unavailable", message, polite=False) from None
        if not secret:
            raise Stop("credential_unavailable", f"no {what} to authenticate with", polite=False)
        self.redact.add(secret)
        return secret

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.target.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _connect(self) -> socket.socket:
        host, port = self.target.host, self.target.port
        try:
            addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise Stop("dns_failure", f"cannot resolve {host}: {exc.strerror}", polite=False) from None
        deadline = self.clock.monotonic() + self.target.timeout
        error: OSError | None = None
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(max(deadline - self.clock.monotonic(), 0.001))
                sock.connect(address)
            except OSError as exc:
                sock.close()
                error = exc
            else:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one small command, then wait
                self.transcript.add("*", f"connected to {address[0]} port {address[1]}")
                return sock
        if isinstance(error, TimeoutError):
            raise error
        if isinstance(error, ConnectionRefusedError):
            raise Stop("connection_refused", f"{host}:{port} refused the connection", polite=False)
        detail = error.strerror if error is not None and error.strerror else str(error)
        raise Stop("connection_failed", f"cannot connect to {host}:{port}: {detail}", polite=False)

    def _handshake(self, context: ssl.SSLContext) -> None:
        assert self.conn is not None
        implicit = self.target.tls == "implicit"
        name = self.target.server_hostname or self.target.host
        with self._phase("tls_handshake"):
            try:
                sock = self.conn.start_tls(context, name)
            except ssl.SSLCertVerificationError as exc:
                detail = VERIFY_DETAILS.get(exc.verify_code, "untrusted")
                raise Stop(
                    "tls_failure",
                    f"certificate rejected ({detail}): {exc.verify_message}",
                    detail=detail,
                    polite=False,
                ) from None
            except (ssl.SSLEOFError, ConnectionError):
                raise Stop(
                    "tls_failure",
                    "the server closed the connection during the TLS handshake",
                    detail="protocol",
                    polite=False,
                ) from None
            except ssl.SSLError as exc:
                if implicit and exc.reason in NOT_TLS:
                    raise Stop(
                        "implicit_tls_unsupported",
                        "the server answered the TLS handshake in plain text: this port expects STARTTLS",
                        polite=False,
                    ) from None
                raise Stop(
                    "tls_failure",
                    f"TLS handshake failed: {exc.reason or exc}",
                    detail="protocol",
                    polite=False,
                ) from None
        cipher = sock.cipher()
        self.tls_version, self.tls_cipher = sock.version(), cipher[0] if cipher else None
        cert = sock.getpeercert() or {}
        not_after = cert.get("notAfter")
        if isinstance(not_after, str):
            self.not_after = certificate_time(not_after)
        self.transcript.add("*", f"TLS established: {self.tls_version} {self.tls_cipher}")

    def _ehlo(self, phase: str) -> None:
        assert self.conn is not None
        name = self.target.ehlo_name or socket.gethostname() or "localhost"
        with self._phase(phase):
            self.conn.send(f"EHLO {name}")
            reply = self._read()
            if reply.code // 100 == 5:
                self.notes.append(f"the server refused EHLO ({reply.code}); used HELO (no extensions)")
                self.conn.send(f"HELO {name}")
                helo = self._read()
                self._expect(helo, 250)
                self.extensions, self.mechanisms = set(), ()
                return
            self._expect(reply, 250)
        self.extensions, mechanisms = set(), []
        for text in reply.texts[1:]:
            keyword, _, params = text.strip().upper().partition(" ")
            if keyword.startswith("AUTH="):  # the pre-RFC 4954 form some servers still send as well
                keyword, params = "AUTH", f"{keyword[5:]} {params}"
            self.extensions.add(keyword)
            if keyword == "AUTH":
                mechanisms += [m for m in params.split() if m not in mechanisms]
        self.mechanisms = tuple(mechanisms)

    def _authenticate(self, secret: str) -> None:
        assert self.conn is not None
        mechanism = MECHANISMS[self.target.auth]
        if mechanism not in self.mechanisms:
            offered = f"offers AUTH {' '.join(self.mechanisms)}" if self.mechanisms else "offers no AUTH"
            hint = " (Exchange Online offers AUTH only after STARTTLS)" if self.target.tls == "none" else ""
            raise Stop("mechanism_not_offered", f"the server {offered}, not {mechanism}{hint}")
        user = self.target.mailbox
        if mechanism == "PLAIN":
            blob = b64(f"\0{user}\0{secret}")
            self.redact.add(blob)
            self.conn.send(f"AUTH PLAIN {blob}", f"AUTH PLAIN {REDACTED}")
            reply = self._read()
        elif mechanism == "LOGIN":
            self.conn.send("AUTH LOGIN")
            reply = self._read()
            for answer in (user, secret):
                if reply.code != 334:
                    break
                self.conn.send(b64(answer), REDACTED)
                reply = self._read()
        else:
            blob = b64(f"user={user}\x01auth=Bearer {secret}\x01\x01")
            self.redact.add(blob)
            self.conn.send(f"AUTH XOAUTH2 {blob}", f"AUTH XOAUTH2 {REDACTED}")
            reply = self._read()
            if reply.code == 334:
                from bot.probe.message import decode_challenge

                self.notes.append(f"XOAUTH2 error from the server: {decode_challenge(reply)}")
                self.conn.send("")
                reply = self._read()
        self._expect(reply, 235)

    def _submit(self) -> None:
        assert self.conn is not None
        target = self.target
        with self._phase("mail_from"):
            self.conn.send(f"MAIL FROM:<{target.mailbox}>")
            self._expect(self._read(), 250)
        if not target.submit_to:
            return
        with self._phase("rcpt_to"):
            self.conn.send(f"RCPT TO:<{target.submit_to}>")
            self._expect(self._read(), 250, 251)
        with self._phase("data"):
            self.conn.send("DATA")
            self._expect(self._read(), 354)
            from bot.probe.message import SUBJECT, test_message  # `email`, only for a probe that sends one

            lines = test_message(target.mailbox, target.submit_to, self.clock.now())
            self.transcript.add("C", f"<test message: {len(lines)} lines, Subject: {SUBJECT}>")
            self.conn.send_raw("".join(line + "\r\n" for line in lines).encode())
            self.conn.send(".")
            self._expect(self._read(), 250)
        self.submitted = True

    def _quit(self) -> None:
        assert self.conn is not None
        phase = self.phase
        with contextlib.suppress(OSError, ProtocolError, ServerClosed), self._phase("quit"):
            self.conn.send("QUIT")
            self.conn.read_reply()
        self.phase = phase

    # --- replies ----------------------------------------------------------------------------------------

    def _read(self) -> SmtpReply:
        assert self.conn is not None
        self.last_reply = self.conn.read_reply()
        return self.last_reply

    def _expect(self, reply: SmtpReply, *codes: int) -> None:
        if reply.code in codes:
            return
        from bot.diagnosis import classify  # the catalogue: only once a reply is not the expected one

        diagnosis = classify(self.redact(reply.raw))
        # Before AUTH a bare code says little: a 454 to STARTTLS is no "temporary authentication failure".
        vague = (
            diagnosis.matched_by.startswith("reply code ") and "enhanced status" not in diagnosis.matched_by
        )
        cause = diagnosis.cause.key
        if cause == "unclassified" or (vague and self.phase in BEFORE_AUTH):
            cause = FALLBACK_CAUSES[self.phase]
        first = self.redact(reply.lines[0])
        raise Stop(cause, f"{self.phase} failed: {first}", reply=reply, polite=reply.code != 421)

    # --- result -----------------------------------------------------------------------------------------

    def _success_message(self) -> str:
        auth = "MAIL FROM accepted"
        if self.target.auth != "none":
            auth = f"AUTH {MECHANISMS[self.target.auth]} succeeded"
        return auth + (f"; test message to {self.target.submit_to} accepted" if self.submitted else "")

    def _timeout_message(self) -> str:
        message = f"no answer within {self.target.timeout:g} s during {self.phase}"
        if self.phase == "greeting" and self.target.tls != "implicit" and self.target.port == 465:
            message += " (port 465 usually expects implicit TLS)"
        return message

    def _result(self, outcome: Stop, started_at: datetime, duration_ms: float) -> ProbeResult:
        target = self.target
        ok = outcome.cause == "ok"
        replied = outcome.reply or (self.last_reply if ok else None)
        reply = None
        if replied is not None:
            parsed = parse_reply(self.redact(replied.raw))
            reply = ProbeReply(parsed.code, parsed.enhanced_status, parsed.text, parsed.raw)
        days_left = None
        if self.not_after is not None:
            days_left = int((self.not_after - self.clock.now()).total_seconds() // 86400)
        last_phase = [phase for phase in self.timings if phase != "quit"]
        return ProbeResult(
            name=target.name,
            host=target.host,
            port=target.port,
            mailbox=target.mailbox,
            tls_mode=target.tls,
            auth=target.auth,
            auth_mode=target.auth_mode,
            ok=ok,
            phase=last_phase[-1] if ok and last_phase else self.phase,
            cause=outcome.cause,
            detail=outcome.detail,
            message=self.redact(outcome.message),
            reply=reply,
            started_at=started_at,
            duration_ms=duration_ms,
            timings_ms=dict(self.timings),
            tls_version=self.tls_version,
            tls_cipher=self.tls_cipher,
            cert_not_after=self.not_after,
            cert_days_left=days_left,
            mechanisms=self.mechanisms,
            submitted=self.submitted,
            notes=tuple(self.redact(note) for note in self.notes),
            transcript=tuple(self.transcript.entries),
        )
