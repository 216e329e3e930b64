"""What to probe (`ProbeTarget`) and what happened (`ProbeResult`): plain data, free of credentials."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from bot.probe.vocabulary import AUTH_CHOICES, TLS_CHOICES

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (a few ms of the CLI's start-up)
if TYPE_CHECKING:
    from typing import Any


Credential = str | Callable[[], str] | None
"""A password (login, plain), a token (xoauth2), or a callable returning one when the probe needs it."""


@dataclass(frozen=True)
class ProbeTarget:
    """One mailbox on one SMTP server, and how to talk to it. Holds no credential."""

    host: str
    mailbox: str
    port: int = 587
    auth: str = "login"
    tls: str = "starttls"
    timeout: float = 20.0
    """Seconds each phase may take (connect, greeting, ehlo, ...), not the whole probe."""
    ca_file: str | None = None
    """PEM bundle to verify the server certificate against instead of the system store."""
    server_hostname: str | None = None
    """Name for SNI and certificate verification when it differs from `host` (e.g. `host` is an IP)."""
    ehlo_name: str | None = None
    submit_to: str | None = None
    """Recipient of a test message after AUTH; None (the default) stops after AUTH."""
    name: str = ""

    def __post_init__(self) -> None:
        if self.auth not in AUTH_CHOICES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_CHOICES)}, not {self.auth!r}")
        if self.tls not in TLS_CHOICES:
            raise ValueError(f"tls must be one of {', '.join(TLS_CHOICES)}, not {self.tls!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, not {self.port}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, not {self.timeout}")

    @property
    def auth_mode(self) -> str | None:
        """The auth mode: "oauth" for XOAUTH2, "basic" for a password, None without AUTH."""
        return {"xoauth2": "oauth", "none": None}.get(self.auth, "basic")

    @classmethod
    def from_config(cls, target: Any, probes: Any) -> ProbeTarget:
        """The target of a loaded `probes.targets` entry; port 465 means implicit TLS, any other STARTTLS."""
        port = target.port or probes.port
        return cls(
            host=target.host or probes.smtp_host,
            port=port,
            mailbox=target.mailbox,
            auth=target.auth,
            tls="implicit" if port == 465 else "starttls",
            timeout=float(probes.timeout_seconds),
            ca_file=str(probes.ca_bundle) if probes.ca_bundle else None,
            submit_to=target.submit_to,
            name=target.name,
        )


@dataclass(frozen=True)
class ProbeReply:
    """The final or failing server reply, split by `bot.diagnosis.parse_reply`; `raw` keeps every line."""

    code: int | None
    enhanced_status: str | None
    text: str
    raw: str


@dataclass(frozen=True)
class ProbeResult:
    """How one probe went. Every string in it has had the credentials redacted."""

    name: str
    host: str
    port: int
    mailbox: str
    tls_mode: str
    auth: str
    auth_mode: str | None
    ok: bool
    phase: str
    """The phase the probe failed in or, when ok, the last one before QUIT."""
    cause: str
    """Either "ok", a `PROBE_CAUSES` key, or a `bot.diagnosis` catalogue key for a server reply."""
    detail: str | None
    """For a `tls_failure`, one of `TLS_DETAILS`."""
    message: str
    """One human-readable line about the outcome."""
    reply: ProbeReply | None
    started_at: datetime
    duration_ms: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    tls_version: str | None = None
    tls_cipher: str | None = None
    cert_not_after: datetime | None = None
    cert_days_left: int | None = None
    mechanisms: tuple[str, ...] = ()
    """AUTH mechanisms offered in the last EHLO reply."""
    submitted: bool = False
    notes: tuple[str, ...] = ()
    transcript: tuple[tuple[str, str], ...] = ()
    """("C", line) sent, ("S", line) received, ("*", event); credentials replaced by <redacted>."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: datetimes as ISO 8601, tuples as lists."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["cert_not_after"] = self.cert_not_after.isoformat() if self.cert_not_after else None
        data["mechanisms"] = list(self.mechanisms)
        data["notes"] = list(self.notes)
        data["transcript"] = [list(entry) for entry in self.transcript]
        return data
