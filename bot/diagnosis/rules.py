"""Classify an SMTP reply against ordered rules: distinctive wording, then enhanced status, then basic code."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.diagnosis.catalogue import UNCLASSIFIED, Cause, get_cause
from bot.diagnosis.reply import Reply, parse_reply


@dataclass(frozen=True)
class Diagnosis:
    """The cause a reply points to, the parsed reply, and which rule decided."""

    cause: Cause
    reply: Reply
    matched_by: str

    @property
    def transient(self) -> bool:
        """Whether trying again later may work: the cause's flag, or for unknown replies a 4xx class."""
        if self.cause is not UNCLASSIFIED:
            return self.cause.transient
        status_class = self.reply.enhanced_status[0] if self.reply.enhanced_status else None
        code_class = str(self.reply.code)[0] if self.reply.code is not None else None
        return (status_class or code_class) == "4"


@dataclass(frozen=True)
class Rule:
    """Matches when every non-empty field matches: any phrase, any enhanced status, any basic code."""

    cause: str
    phrases: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    codes: tuple[int, ...] = ()
    note: str = ""

    def match(self, reply: Reply, haystack: str) -> str | None:
        """A description of what matched, or None."""
        found: list[str] = []
        if self.phrases:
            phrase = next((p for p in self.phrases if _compact(p) in haystack), None)
            if phrase is None:
                return None
            found.append(f"phrase {phrase!r}")
        if self.codes:
            if reply.code not in self.codes:
                return None
            found.append(f"reply code {reply.code}")
        if self.statuses:
            if reply.enhanced_status not in self.statuses:
                return None
            found.append(f"enhanced status {reply.enhanced_status}")
        described = " with ".join(found)
        return f"{described} ({self.note})" if self.note else described


def _phrases(cause: str, *phrases: str) -> Rule:
    return Rule(cause, phrases=phrases)


def _statuses(cause: str, *statuses: str, note: str = "") -> Rule:
    return Rule(cause, statuses=statuses, note=note)


RULES: tuple[Rule, ...] = (
    # Distinctive wording first: it survives a dropped code, and it names the inner reason when Exchange nests
    # one reply in another ("5.7.57 Client not authenticated ... Error: 535 5.7.139 ... for the Tenant").
    _phrases("smtp_auth_disabled_mailbox", "SmtpClientAuthentication is disabled for the Mailbox"),
    _phrases(
        "smtp_auth_disabled_tenant",
        "SmtpClientAuthentication is disabled for the Tenant",
        "SmtpClientAuthentication is disabled",
    ),
    _phrases("security_defaults", "security defaults"),
    _phrases("basic_auth_retired", "Basic authentication is not supported for Client Submission"),
    _phrases("basic_auth_disabled_policy", "basic authentication is disabled"),
    _phrases("conditional_access_or_mfa", "did not meet the criteria"),
    _phrases("bad_credentials", "credentials were incorrect"),
    _phrases("account_locked", "account locked", "account is locked"),
    _phrases("federation_sts_unreachable", "federated STS", "STS URL does not support HTTPS"),
    # Before send_as_denied: 5.2.252 reads "Sender throttled due to continuous send as denied errors".
    _phrases("sender_throttled", "Sender throttled"),
    _phrases(
        "sending_quota_exceeded",
        "SubmissionQuotaExceeded",
        "submission quota",
        "daily limit for message recipients",
    ),
    _phrases("send_as_denied", "SendAsDenied", "does not have permissions to send as", "not allowed to send as"),
    _phrases("concurrent_connection_limit", "sender thread limit"),
    _phrases("tls_version_unsupported", "TLS 1.0 and 1.1 are not supported"),
    _phrases(
        "implicit_tls_unsupported", "first record does not look like a TLS handshake", "wrong version number"
    ),
    _phrases("starttls_required", "Must issue a STARTTLS command first", "SMTP AUTH extension not supported"),
    _phrases("auth_mechanism_unsupported", "Unrecognized authentication type"),
    _phrases("xoauth2_malformed", "Invalid XOAUTH2"),
    _phrases("temporary_auth_failure", "Temporary authentication failure"),
    _phrases(
        "tenant_or_ip_blocked",
        "traffic not accepted from this IP",
        "tenant has exceeded threshold",
        "unregistered domain",
    ),
    _phrases("sender_restricted", "bad outbound sender"),
    _phrases("hve_external_recipient", "External sending is not supported for High Volume Email"),
    _phrases("direct_send_rejected", "Direct Send not allowed"),
    _phrases("org_config_disallows_auth", "organization configuration doesn't allow"),
    _phrases("relay_connector_mismatch", "TenantAttribution; Relay Access Denied"),
    _phrases("relay_denied", "Unable to relay"),
    # After sender_throttled: 5.2.254 reads "continuous too many recipients errors".
    _phrases("too_many_recipients", "Too many recipients"),
    _phrases("message_too_large", "exceeds fixed maximum", "MaxSubmissionExceeded", "Message size exceeds"),
    _phrases("not_authenticated", "Client not authenticated", "Client was not authenticated"),
    # Then the enhanced status.
    _statuses("basic_auth_retired", "5.7.30"),
    _statuses("send_as_denied", "5.7.60"),
    # 5.2.252 is two replies: "550 5.2.252 Sender throttled ..." and "554 5.2.252 SendAsDenied; ..." (one refusal).
    # Their wording is caught above; without it the basic code decides, and a bare status is the refusal.
    Rule("sender_throttled", statuses=("5.2.252",), codes=(550,), note="550 5.2.252 is the Send As throttle"),
    _statuses(
        "send_as_denied",
        "5.2.252",
        note="without 550 or 'Sender throttled' it is one Send As refusal, not the throttle",
    ),
    _statuses("sender_throttled", "5.2.251", "5.2.253", "5.2.254", "5.2.255"),
    _statuses("tls_version_unsupported", "4.7.66", "5.7.67"),
    Rule("starttls_required", statuses=("5.7.0",), codes=(530,)),
    _statuses("auth_mechanism_unsupported", "5.7.4"),
    _statuses("xoauth2_malformed", "5.5.124"),
    _statuses("tenant_or_ip_blocked", *(f"5.7.{n}" for n in range(700, 751))),
    _statuses("sender_restricted", "5.1.8"),
    _statuses("hve_external_recipient", "5.5.105"),
    _statuses("direct_send_rejected", "5.7.68"),
    _statuses("relay_connector_mismatch", "5.7.64"),
    _statuses("relay_denied", "5.7.54"),
    _statuses("server_busy", *(f"4.7.{n}" for n in range(500, 700))),
    _statuses("too_many_recipients", "4.5.3"),
    _statuses("message_too_large", "5.3.4"),
    _statuses("sending_quota_exceeded", "5.1.90"),
    _statuses("not_authenticated", "5.7.57"),
    _statuses("auth_failed", "5.7.3"),
    _statuses(
        "auth_failed", "5.7.139", note="wording not recognised, treated as a generic authentication failure"
    ),
    # Then the basic code.
    Rule("temporary_auth_failure", codes=(454,)),
    Rule("not_authenticated", codes=(530,)),
    Rule("auth_failed", codes=(535,)),
    # Last, generic wording from logs that dropped every code.
    _phrases("auth_failed", "Authentication unsuccessful", "authentication failed"),
)
"""Classification rules; the first that matches wins."""


def classify(text: str) -> Diagnosis:
    """Name the cause of a pasted SMTP reply; unknown replies get the `unclassified` cause."""
    reply = parse_reply(text)
    haystack = _compact(f"{reply.preamble} {reply.text}")
    for rule in RULES:
        matched_by = rule.match(reply, haystack)
        if matched_by is not None:
            return Diagnosis(cause=get_cause(rule.cause), reply=reply, matched_by=matched_by)
    return Diagnosis(cause=UNCLASSIFIED, reply=reply, matched_by="no rule matched")


def _compact(text: str) -> str:
    """Lower case with everything but letters and digits removed, so wrapped lines and curly quotes still match."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())
