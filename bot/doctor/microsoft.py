"""Doctor checks for Microsoft 365: app-only tokens and the Graph and Exchange permissions handlers declare."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.doctor.needs import EXCHANGE, GRAPH, declared, graph_alternatives
from bot.doctor.result import FAIL, OK, SKIP, WARN
from bot.doctor.roles import ROLE_IDS, RoleChecks
from bot.errors import AuthenticationFailed, LicenceMissing, M365Error

if TYPE_CHECKING:
    from bot.m365.tenant import M365


class MicrosoftChecks(RoleChecks):
    """Tokens, Graph permissions, Exchange permissions, then the roles behind the Exchange cmdlets."""

    def token(self, m365: M365, scope: str, service: str) -> dict[str, Any] | None:
        """The claims of an app-only token for `scope`, or None (reported) when Entra ID refuses one."""
        from bot.m365.auth import token_claims

        check = f"Entra token for {service}"
        try:
            claims = token_claims(m365.tokens.token(scope))
        except AuthenticationFailed as exc:
            fix = exc.hint or "check M365_TENANT_ID, M365_CLIENT_ID and the secret or certificate"
            self.add(FAIL, check, exc.message, fix)
            return None
        except M365Error as exc:
            self.add(FAIL, check, exc.message, exc.hint)
            return None
        if claims.get("app_displayname"):
            self.app = f"{claims['app_displayname']} (client id {m365.tokens.client_id})"
        self.add(OK, check, f"issued to {self.app} in tenant {claims.get('tid', '?')} "
                 f"({m365.tokens.credential_kind} credential)")
        return claims

    def graph_permissions(self, claims: dict[str, Any] | None) -> None:
        if claims is None:
            self.add(SKIP, "Graph permissions", "not checked without a Graph token")
            return
        granted = set(claims.get("roles") or ())
        for name, uses in sorted(declared(GRAPH).items()):
            check = f"Graph permission {name}"
            if name in granted:
                self.add(OK, check, "granted")
                continue
            missing = [u for u in uses if not granted.intersection(graph_alternatives(u.permission))]
            if not missing:
                wider = granted.intersection(a for u in uses for a in graph_alternatives(u.permission))
                self.add(OK, check, f"not granted, but covered by {', '.join(sorted(wider))}")
                continue
            kind = "change" if ".ReadWrite." in name else "read"
            self.add(
                FAIL,
                check,
                f"missing ({kind}) — needed to " + "; ".join(u.describe() for u in missing),
                f"Entra admin center > App registrations > {self.app} > API permissions > Add a permission > "
                f"Microsoft Graph > Application permissions > {name}, then Grant admin consent",
            )

    def sign_in_logs(self, m365: M365, claims: dict[str, Any] | None) -> None:
        """The readiness report's usage source: `AuditLog.Read.All` and an Entra ID P1 licence (warnings: the
        report runs without them, showing usage as not read)."""
        from bot.m365.graph import Op

        check = "Sign-in logs (readiness report)"
        if claims is None:
            self.add(SKIP, check, "not checked without a Graph token")
            return
        if "AuditLog.Read.All" not in set(claims.get("roles") or ()):
            self.add(WARN, check, "AuditLog.Read.All is not granted: the readiness report cannot see who still "
                     "sends with a password",
                     f"Entra admin center > App registrations > {self.app} > API permissions > Add a permission > "
                     "Microsoft Graph > Application permissions > AuditLog.Read.All, then Grant admin consent")
            return
        try:
            m365.graph.get("auditLogs/signIns", Op("read the Entra ID sign-in logs", "AuditLog.Read.All"),
                           params={"$top": "1"})
        except LicenceMissing as exc:
            self.add(WARN, check, exc.message, exc.hint)
            return
        except M365Error as exc:
            self.add(WARN, check, exc.message, exc.hint)
            return
        self.add(OK, check, "AuditLog.Read.All granted and the tenant's licence lets Graph serve them")

    def exchange(self, m365: M365, claims: dict[str, Any] | None, mailbox: str | None = None) -> None:
        if claims is None:
            self.add(SKIP, "Exchange", "not checked without an Exchange Online token")
            return
        granted = set(claims.get("roles") or ())
        for name, uses in sorted(declared(EXCHANGE).items()):
            check = f"Exchange permission {name}"
            if name in granted:
                self.add(OK, check, "granted")
            else:
                self.add(
                    FAIL,
                    check,
                    "missing from the Exchange Online token — needed to "
                    + "; ".join(u.describe() for u in uses),
                    f"Entra admin center > App registrations > {self.app} > API permissions > "
                    "Add a permission > APIs my organization uses > Office 365 Exchange Online > "
                    f"Application permissions > {name}, then Grant admin consent",
                )
        wids = set(claims.get("wids") or ())
        held = [name for name, template in ROLE_IDS.items() if template in wids]
        recipient_only = self.exchange_role(held)
        self.exchange_read(m365, recipient_only)
        self.exchange_write(m365, mailbox)
