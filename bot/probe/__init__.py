"""SMTP AUTH probes: one session phase by phase (`probe`), many in parallel (`probe_many`), and the CLI."""

from bot.probe.cli import add_probe_arguments, format_result, probe_main
from bot.probe.client import probe
from bot.probe.model import (
    AUTH_CHOICES,
    MECHANISMS,
    PHASES,
    PROBE_CAUSES,
    TLS_CHOICES,
    TLS_DETAILS,
    Credential,
    ProbeReply,
    ProbeResult,
    ProbeTarget,
)
from bot.probe.outcome import EXCHANGE_ONLINE_DOMAINS, is_exchange_online
from bot.probe.pool import EXCHANGE_CONNECTIONS_PER_MAILBOX, MailboxLimiter, probe_many

__all__ = [
    "AUTH_CHOICES",
    "EXCHANGE_CONNECTIONS_PER_MAILBOX",
    "EXCHANGE_ONLINE_DOMAINS",
    "MECHANISMS",
    "PHASES",
    "PROBE_CAUSES",
    "TLS_CHOICES",
    "TLS_DETAILS",
    "Credential",
    "MailboxLimiter",
    "ProbeReply",
    "ProbeResult",
    "ProbeTarget",
    "add_probe_arguments",
    "format_result",
    "is_exchange_online",
    "probe",
    "probe_main",
    "probe_many",
]
