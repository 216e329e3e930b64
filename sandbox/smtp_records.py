"""The SMTP stand-in's knobs and what it saw: sessions and accepted messages, never a password or token."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

#: A reply line that is not SMTP at all (a TLS record header, then bytes that are not UTF-8).
GARBAGE = b"\x16\x03\x01\x00\x2a\xff\xfe garbage: this is not an SMTP reply"


@dataclass
class SmtpFaults:
    """Knobs for every new SMTP connection; `SandboxState.reset()` puts them back to these defaults.

    `refuse_connect`: refuse the next N connections with `421 4.3.2` (-1: every connection).
    `reply_delay`: seconds to wait before every reply (a multi-line reply counts once).
    Phases are `greeting`, then each command by its lower-case verb (`ehlo`, `starttls`, `auth`, `mail`,
    `rcpt`, `data`, `quit` ...), then `message` for the reply after the DATA content.
    `drop_after`: an int N closes the connection instead of answering the command after the first N; a
    phase (not `message`) closes it instead of answering that phase.
    `garbage`: a phase whose first reply on each connection is replaced by the GARBAGE line.
    `mailbox_limit`: concurrent authenticated connections per mailbox (Exchange Online allows 3); AUTH on
    one more gets `432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded`.
    `advertise_plain`: whether EHLO offers AUTH PLAIN. Exchange offers LOGIN and XOAUTH2 only, but the
    sandbox accepts PLAIN either way.
    """

    refuse_connect: int = 0
    reply_delay: float = 0.0
    drop_after: int | str | None = None
    garbage: str | None = None
    mailbox_limit: int = 3
    advertise_plain: bool = False

    def clear(self) -> None:
        for knob in fields(self):
            setattr(self, knob.name, knob.default)

    def take_refusal(self) -> bool:
        """Whether to refuse the connection being opened (counts it against `refuse_connect`)."""
        if self.refuse_connect > 0:
            self.refuse_connect -= 1
            return True
        return self.refuse_connect < 0


@dataclass
class SmtpSession:
    """One SMTP connection, updated before each reply it gets.

    `result` is the code and enhanced status of the last AUTH reply (e.g. `535 5.7.139`); `faults` lists
    the faults it met (`refused`, `garbage`, `dropped`, `limit`).
    """

    id: str
    remote: str
    started: datetime
    tls_version: str | None = None
    mechanism: str | None = None
    mailbox: str | None = None
    result: str | None = None
    messages: int = 0
    faults: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SmtpMessage:
    """A message the stand-in accepted (headers read for the subject and Message-ID; the body is dropped)."""

    session: str
    mailbox: str
    mail_from: str
    recipients: tuple[str, ...]
    subject: str | None
    message_id: str
    size: int
    received: datetime
