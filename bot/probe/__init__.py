"""SMTP AUTH probes: one session phase by phase (`probe`), many in parallel (`probe_many`), and the CLI.

The names below load with their submodule on first use, so that `python -m bot probe` loads the client
and not the pool (nor the test message's `email` package unless it sends one).
"""

from __future__ import annotations

from bot.lazy import lazy_exports

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (a few ms of the CLI's start-up)
if TYPE_CHECKING:
    from bot.probe.cli import add_probe_arguments, format_result, probe_main
    from bot.probe.client import probe
    from bot.probe.model import Credential, ProbeReply, ProbeResult, ProbeTarget
    from bot.probe.outcome import EXCHANGE_ONLINE_DOMAINS, is_exchange_online
    from bot.probe.pool import EXCHANGE_CONNECTIONS_PER_MAILBOX, MailboxLimiter, probe_many
    from bot.probe.vocabulary import AUTH_CHOICES, MECHANISMS, PHASES, PROBE_CAUSES, TLS_CHOICES, TLS_DETAILS

#: The submodule each public name lives in.
_HOMES = {
    "add_probe_arguments": "cli", "format_result": "cli", "probe_main": "cli", "probe": "client",
    "AUTH_CHOICES": "vocabulary", "MECHANISMS": "vocabulary", "PHASES": "vocabulary", "PROBE_CAUSES": "vocabulary",
    "TLS_CHOICES": "vocabulary", "TLS_DETAILS": "vocabulary", "Credential": "model", "ProbeReply": "model",
    "ProbeResult": "model", "ProbeTarget": "model", "EXCHANGE_ONLINE_DOMAINS": "outcome",
    "is_exchange_online": "outcome", "EXCHANGE_CONNECTIONS_PER_MAILBOX": "pool", "MailboxLimiter": "pool",
    "probe_many": "pool",
}

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

__getattr__ = lazy_exports(__name__, _HOMES, globals())
