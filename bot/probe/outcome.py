"""What ends a probe: the causes by phase, TLS failure details, and the `Stop` signal that carries them."""

from __future__ import annotations

from bot.probe.wire import SmtpReply

EXCHANGE_ONLINE_DOMAINS = ("office365.com", "outlook.com", "office365.us", "outlook.cn")
"""Host names under these domains are Exchange Online, which offers no implicit TLS for client submission."""

# OpenSSL reasons for "the peer's first bytes are not a TLS record", i.e. a plain-text SMTP greeting.
NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)
VERIFY_DETAILS = {9: "not_yet_valid", 10: "expired", 62: "hostname_mismatch", 64: "hostname_mismatch"}
# Causes for replies the catalogue does not know, by the phase they came in.
FALLBACK_CAUSES = {
    "greeting": "greeting_rejected",
    "ehlo": "ehlo_rejected",
    "ehlo_tls": "ehlo_rejected",
    "starttls": "starttls_rejected",
    "auth": "auth_rejected",
    "mail_from": "submission_rejected",
    "rcpt_to": "submission_rejected",
    "data": "submission_rejected",
}
BEFORE_AUTH = frozenset({"greeting", "ehlo", "starttls", "ehlo_tls"})


class Stop(Exception):
    """Ends the probe with a cause; `polite` when the session is in step and QUIT makes sense."""

    def __init__(
        self,
        cause: str,
        message: str,
        *,
        detail: str | None = None,
        reply: SmtpReply | None = None,
        polite: bool = True,
    ) -> None:
        super().__init__(message)
        self.cause, self.message, self.detail, self.reply, self.polite = cause, message, detail, reply, polite


def is_exchange_online(host: str) -> bool:
    """Whether `host` is an Exchange Online name (smtp.office365.com and the other clouds' hosts)."""
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in EXCHANGE_ONLINE_DOMAINS)
