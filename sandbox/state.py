"""All the sandbox's tenants and the knobs tests turn; one RLock guards every read and change."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bot.clock import SYSTEM_CLOCK, Clock
from sandbox.app_access import ExchangeServicePrincipal, MailboxPermission
from sandbox.bulk import add_generated_mailboxes
from sandbox.faults import FaultSet
from sandbox.recording import RequestLog
from sandbox.seeding import SEED_PATH, load_tenant
from sandbox.signins import seed_sign_ins
from sandbox.smtp_records import SmtpFaults, SmtpMessage, SmtpSession
from sandbox.tenant import DIRECTORY_ROLES, EXCHANGE_APP_ROLES, AppRegistration, TenantState, User

DEFAULT_TOKEN_LIFETIME = 3599


class SandboxState:
    """All sandbox tenants plus the knobs tests turn: clock, faults, token lifetime, request log.

    Client secrets are generated once per `SandboxState` and survive `reset()`, so a written
    `sandbox.env` stays valid; registered certificates, users added at runtime, faults and the
    request log do not, nor do the SMTP stand-in's knobs, sessions and accepted messages.
    """

    def __init__(self, seed: Path | str | dict[str, Any] | None = None, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or SYSTEM_CLOCK
        self.faults = FaultSet(self.clock)
        self.requests = RequestLog()
        self.smtp_faults = SmtpFaults()
        self.smtp_sessions: list[SmtpSession] = []
        self.smtp_messages: list[SmtpMessage] = []
        if isinstance(seed, dict):
            self._seed = copy.deepcopy(seed)
        else:
            self._seed = yaml.safe_load(Path(seed or SEED_PATH).read_text())
        self._secrets: dict[str, str] = {}
        self.tenants: dict[str, TenantState] = {}
        self.token_lifetime = DEFAULT_TOKEN_LIFETIME
        self.basic_auth_retired = False
        self.reset()

    def reset(self) -> None:
        """Back to the seed: tenants rebuilt, faults and request log cleared, knobs at their defaults."""
        with self.lock:
            self.tenants = {
                key: load_tenant(key, raw, self._secrets) for key, raw in self._seed["tenants"].items()
            }
            now = self.clock.now()
            for key, raw in self._seed["tenants"].items():  # relative to the clock: they age as it moves
                seed_sign_ins(self.tenants[key], raw.get("signIns", []), now)
                add_generated_mailboxes(self.tenants[key], int(raw.get("generatedMailboxes", 0)), now)
            self.token_lifetime = DEFAULT_TOKEN_LIFETIME
            self.basic_auth_retired = False
            self.faults.clear()
            self.requests.clear()
            self.smtp_faults.clear()
            self.smtp_sessions.clear()
            self.smtp_messages.clear()

    def find_tenant(self, ref: str) -> TenantState | None:
        """A tenant by seed key, GUID or any of its domains (case-insensitive)."""
        ref = ref.lower()
        with self.lock:
            return next(
                (
                    t
                    for t in self.tenants.values()
                    if ref in (t.key, t.id) or ref in (d.lower() for d in t.domains)
                ),
                None,
            )

    def tenant(self, ref: str) -> TenantState:
        found = self.find_tenant(ref)
        if found is None:
            raise KeyError(f"no sandbox tenant {ref!r}")
        return found

    def find_app(self, client_id: str) -> tuple[TenantState, AppRegistration]:
        with self.lock:
            for tenant in self.tenants.values():
                app = tenant.app(client_id)
                if app is not None:
                    return tenant, app
        raise KeyError(f"no app registration {client_id!r}")

    def add_user(self, tenant: str, upn: str, **options: Any) -> User:
        """Add a user to `tenant` (key, GUID or domain); options as in `TenantState.add_user`."""
        with self.lock:
            return self.tenant(tenant).add_user(upn, **options)

    def client_secret(self, client_id: str) -> str:
        return self.find_app(client_id)[1].client_secret

    def grant(self, client_id: str, permission_or_role: str) -> None:
        """Grant an application permission (Graph or Exchange) or assign a directory role (display name)."""
        with self.lock:
            app = self.find_app(client_id)[1]
            if " " in permission_or_role and permission_or_role not in DIRECTORY_ROLES:
                raise ValueError(f"unknown directory role {permission_or_role!r}")
            self._grants(app, permission_or_role).add(permission_or_role)

    def revoke(self, client_id: str, permission_or_role: str) -> None:
        with self.lock:
            app = self.find_app(client_id)[1]
            self._grants(app, permission_or_role).discard(permission_or_role)

    def grant_mailbox(self, client_id: str, mailbox: str) -> None:
        """What an admin does by hand for app-only SMTP (tests): register the app's service principal in Exchange
        and give it FullAccess to `mailbox` (the Entra consent is `grant(client_id, "SMTP.SendAsApp")`)."""
        with self.lock:
            tenant, app = self.find_app(client_id)
            access = tenant.app_access
            if access.service_principal(app.service_principal_id) is None:
                access.service_principals.append(
                    ExchangeServicePrincipal(app.client_id, app.service_principal_id, app.display_name))
            user = tenant.user(mailbox)
            if user is None:
                raise KeyError(f"no user {mailbox!r}")
            access.mailbox_permissions.append(MailboxPermission(user.id, app.service_principal_id, ["FullAccess"]))

    def register_certificate(self, client_id: str, cert_pem: str | bytes) -> str:
        """Upload a public certificate to the app's credentials; returns its SHA-1 thumbprint (hex)."""
        cert = x509.load_pem_x509_certificate(cert_pem.encode() if isinstance(cert_pem, str) else cert_pem)
        with self.lock:
            self.find_app(client_id)[1].certificates.append(cert)
        return cert.fingerprint(hashes.SHA1()).hex()

    def set_basic_auth_retired(self, retired: bool) -> None:
        """Whether Basic auth for SMTP AUTH is retired (read by the SMTP stand-in)."""
        with self.lock:
            self.basic_auth_retired = retired

    @staticmethod
    def _grants(app: AppRegistration, name: str) -> set[str]:
        if name in DIRECTORY_ROLES:
            return app.directory_roles
        return app.exchange_roles if name in EXCHANGE_APP_ROLES else app.graph_roles
