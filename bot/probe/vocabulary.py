"""The probe's words: its phases, choices and own causes. Plain constants, cheap to import (the command
line's parser needs `AUTH_CHOICES` before any probe runs)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

PHASES = (
    "credential",
    "connect",
    "greeting",
    "ehlo",
    "starttls",
    "tls_handshake",
    "ehlo_tls",
    "auth",
    "mail_from",
    "rcpt_to",
    "data",
    "quit",
)
"""Every phase a probe can end in, in the order they run (implicit TLS does tls_handshake before greeting)."""

AUTH_CHOICES = ("login", "plain", "xoauth2", "none")
TLS_CHOICES = ("starttls", "implicit", "none")
MECHANISMS: Mapping[str, str] = MappingProxyType({"login": "LOGIN", "plain": "PLAIN", "xoauth2": "XOAUTH2"})
"""The SASL mechanism each `auth` choice uses."""

TLS_DETAILS = ("expired", "not_yet_valid", "hostname_mismatch", "untrusted", "protocol")
"""`ProbeResult.detail` values of a `tls_failure`."""

PROBE_CAUSES: Mapping[str, str] = MappingProxyType(
    {
        "ok": "authentication succeeded (and the test message was accepted, when one was sent)",
        "credential_unavailable": "there was no password or token to authenticate with",
        "dns_failure": "the host name does not resolve",
        "connection_refused": "nothing accepts connections on that port",
        "connection_failed": "the connection could not be made or broke on a network error",
        "timeout": "the server did not answer in time",
        "server_closed": "the server closed the connection",
        "protocol_error": "the server sent something that is not a valid SMTP reply",
        "greeting_rejected": "the server refused the session in its greeting",
        "ehlo_rejected": "the server refused EHLO and HELO",
        "no_starttls": "the server does not offer STARTTLS",
        "starttls_rejected": "the server refused STARTTLS",
        "tls_failure": "the TLS handshake failed",
        "implicit_tls_unsupported": "implicit TLS does not work here: the server expects STARTTLS",
        "mechanism_not_offered": "the server does not offer the AUTH mechanism asked for",
        "auth_rejected": "the server refused AUTH with a reply the catalogue does not know",
        "submission_rejected": "the server refused the test message with a reply the catalogue does not know",
    }
)
"""Causes the probe names itself; replies the catalogue knows get the catalogue's key instead."""
