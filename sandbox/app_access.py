"""What Exchange Online knows about apps: service principal references, mailbox permissions, RBAC for apps.

Kept apart from `tenant.py`'s directory: these objects live in Exchange, not Entra ID. A service principal in
Exchange is only a reference to the Entra one (learn.microsoft.com/powershell/module/exchange/new-serviceprincipal),
and what an app may do with a mailbox is either a mailbox permission on that reference
(learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth)
or an "Application ..." role assigned to it with a scope
(learn.microsoft.com/exchange/permissions-exo/application-rbac).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The application roles RBAC for Applications offers that the sandbox knows (learn.microsoft.com
#: exchange/permissions-exo/application-rbac, "Supported Application Roles"); others answer "not found".
APPLICATION_ROLES = frozenset(
    {
        "Application SMTP.SendAsApp",
        "Application Mail.Send",
        "Application Mail.Read",
        "Application Mail.ReadWrite",
        "Application MailboxSettings.Read",
        "Application Calendars.Read",
    }
)
SMTP_SEND_AS_APP_ROLE = "Application SMTP.SendAsApp"


@dataclass
class ExchangeServicePrincipal:
    """A service principal reference in Exchange: the Entra app id and the Entra service principal's object id."""

    app_id: str
    object_id: str
    display_name: str


@dataclass
class MailboxPermission:
    """One Add-MailboxPermission entry: who (`user`, a service principal's object id here) may do what."""

    mailbox_id: str  # the Entra object id of the mailbox's user
    user: str
    access_rights: list[str]


@dataclass
class ManagementScope:
    name: str
    recipient_restriction_filter: str


@dataclass
class RoleAssignment:
    name: str
    role: str
    app: str  # the service principal's object id
    custom_resource_scope: str | None


@dataclass
class AppAccess:
    """One tenant's Exchange-side app objects."""

    service_principals: list[ExchangeServicePrincipal] = field(default_factory=list)
    mailbox_permissions: list[MailboxPermission] = field(default_factory=list)
    scopes: list[ManagementScope] = field(default_factory=list)
    assignments: list[RoleAssignment] = field(default_factory=list)

    def service_principal(self, ref: str) -> ExchangeServicePrincipal | None:
        """A registered service principal by object id, app id or display name (case-insensitive)."""
        ref = ref.lower()
        return next(
            (
                sp
                for sp in self.service_principals
                if ref in (sp.object_id.lower(), sp.app_id.lower(), sp.display_name.lower())
            ),
            None,
        )

    def scope(self, name: str) -> ManagementScope | None:
        return next((s for s in self.scopes if s.name.lower() == name.lower()), None)

    def assignment(self, name: str) -> RoleAssignment | None:
        return next((a for a in self.assignments if a.name.lower() == name.lower()), None)
