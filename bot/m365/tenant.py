"""`connect(cfg)`: the Graph and Exchange clients of one tenant, sharing one MSAL app and one session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.m365.auth import TokenProvider, certificate_credential
from bot.m365.exchange import ExchangeClient
from bot.m365.graph import GraphClient
from bot.m365.http import Transport, make_session


@dataclass
class M365:
    """Everything that talks to one Microsoft 365 tenant."""

    tokens: TokenProvider
    graph: GraphClient
    exchange: ExchangeClient

    @property
    def tenant_id(self) -> str:
        return self.tokens.tenant_id


def connect(m365: Any, *, clock: Clock = SYSTEM_CLOCK) -> M365:
    """Build the clients from the `m365` section of the configuration. No network I/O happens here."""
    timeout = (min(10.0, float(m365.timeout_seconds)), float(m365.timeout_seconds))
    ca_bundle = str(m365.ca_bundle) if m365.ca_bundle else None
    session = make_session(ca_bundle, timeout)
    secret = m365.client_secret.get_secret_value() if m365.client_secret else None
    cert = certificate_credential(m365.client_cert_path) if m365.client_cert_path else None
    tokens = TokenProvider(
        tenant_id=m365.tenant_id,
        client_id=m365.client_id,
        authority_url=m365.login_url,
        client_secret=secret,
        client_cert=cert,
        session=session,
    )

    def transport(service: str) -> Transport:
        return Transport(
            service,
            timeout=timeout,
            max_attempts=m365.max_attempts,
            max_wait=float(m365.max_retry_wait_seconds),
            clock=clock,
            session=session,
        )

    return M365(
        tokens=tokens,
        graph=GraphClient(transport("Microsoft Graph"), tokens, base_url=m365.graph_url, scope=m365.graph_scope),
        exchange=ExchangeClient(
            transport("Exchange Online"), tokens, base_url=m365.exchange_url, scope=m365.exchange_scope
        ),
    )


def app_tokens(m365: Any, client_id: str, client_secret: str) -> TokenProvider:
    """Tokens for another app of the same tenant and cloud (a device's own app, for its XOAUTH2 probe).

    No network I/O here; MSAL's app is built and caches its tokens on the first `token()` call.
    """
    timeout = (min(10.0, float(m365.timeout_seconds)), float(m365.timeout_seconds))
    session = make_session(str(m365.ca_bundle) if m365.ca_bundle else None, timeout)
    return TokenProvider(tenant_id=m365.tenant_id, client_id=client_id, authority_url=m365.login_url,
                         client_secret=client_secret, session=session)
