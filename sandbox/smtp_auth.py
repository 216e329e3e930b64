"""Exchange Online's answer to SMTP AUTH, decided from the sandbox tenant's current state in Exchange's order.

Basic (LOGIN, PLAIN) — the first check that fails answers; Exchange's authentication policy comes first (it
blocks Basic before Entra ID sees the password), then the Entra ID sign-in, then Exchange's SMTP AUTH switch,
as far as public evidence shows:

1. Basic retired for the whole sandbox (`SandboxState.basic_auth_retired`) -> `550 5.7.30`.
2. The user's authentication policy (else the org default) has AllowBasicAuthSmtp off -> `basic
   authentication is disabled`.
3. Unknown user, or a password other than the user's `smtp_password` -> `the user credentials were incorrect`.
4. Account disabled -> `535 5.7.3 Authentication unsuccessful` (no exact Exchange wording is known).
5. Security defaults on -> `user is locked by your organization's security defaults policy`.
6. Per-user MFA enforced, or an enabled Conditional Access policy that blocks the legacy sign-in
   (`sandbox.conditional_access`) -> `the request did not meet the criteria`. Per-user MFA `enabled` does
   not block: such a user "can still use their password for legacy authentication" until they register a
   method, which turns the state into `enforced` (learn.microsoft.com Get-EntraBetaUserAuthenticationRequirement,
   entra/identity/authentication/howto-mfa-userstates).
7. No licence or no mailbox -> `535 5.7.3`.
8. SMTP AUTH off for the mailbox, or inherited from the org -> `SmtpClientAuthentication is disabled for the
   Mailbox` / `... for the Tenant`.

XOAUTH2 (app-only, client credentials) — steps 1, 2 and 4-6 are Basic-only and do not apply:

1. The token is not one the sandbox's Entra ID issued for Exchange Online (signature, time on the sandbox
   clock, audience), or belongs to another tenant -> `535 5.7.3`.
2. No such mailbox -> `535 5.7.3`.
3. The app has no access to this mailbox -> `535 5.7.3`. Access is one of the routes Microsoft documents
   (`app_has_access`), chosen by the token: with the `SMTP.SendAsApp` role in it (admin consent in Entra ID),
   the service principal registered in Exchange and FullAccess on the mailbox (learn.microsoft.com/exchange/
   client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth), and
   nothing else: "Including the SMTP.SendAsApp claim would trigger an unnecessary check for mailbox
   permissions" (.../legacy-protocols/smtp-app-rbac-onboarding, 10/2025). Without the claim, RBAC for
   Applications: "Application SMTP.SendAsApp" assigned to the registered service principal with a scope that
   includes the mailbox (learn.microsoft.com/exchange/permissions-exo/application-rbac).
4. The SMTP AUTH switch as in Basic step 8: disabling SMTP AUTH disables OAuth too.
"""

from __future__ import annotations

import hmac

from sandbox.app_access import SMTP_SEND_AS_APP_ROLE
from sandbox.conditional_access import LegacySignIn, blocking_policies
from sandbox.entra import check_bearer
from sandbox.service_principals import in_scope
from sandbox.signins import add_sign_in
from sandbox.state import SandboxState
from sandbox.tenant import DirectoryRole, Group, TenantState, User
from sandbox.wire import Call

SUCCESS = "235 2.7.0 Authentication successful"
BASIC_RETIRED = "550 5.7.30 Basic authentication is not supported for Client Submission."
_UNSUCCESSFUL = "535 5.7.139 Authentication unsuccessful, "
BASIC_DISABLED = _UNSUCCESSFUL + "basic authentication is disabled."
BAD_CREDENTIALS = _UNSUCCESSFUL + "the user credentials were incorrect."
SECURITY_DEFAULTS = (
    _UNSUCCESSFUL
    + "user is locked by your organization's security defaults policy. Contact your administrator."
)
CRITERIA = (
    _UNSUCCESSFUL + "the request did not meet the criteria to be authenticated successfully. "
    "Contact your administrator."
)
SMTP_AUTH_DISABLED = (
    _UNSUCCESSFUL + "SmtpClientAuthentication is disabled for the {scope}. "
    "Visit https://aka.ms/smtp_auth_disabled for more information."
)
FAILED = "535 5.7.3 Authentication unsuccessful"
SEND_AS_APP = "SMTP.SendAsApp"


def basic_reply(state: SandboxState, address: str, password: str) -> str:
    """The reply to AUTH LOGIN or PLAIN for `address` with `password`."""
    with state.lock:
        if state.basic_auth_retired:
            return BASIC_RETIRED
        found = find_mailbox_user(state, address)
        tenant, user = found or (None, None)
        if tenant is not None and user is not None and not _basic_allowed(tenant, user):
            return BASIC_DISABLED
        if tenant is None or user is None or not _password_matches(user, password):
            return BAD_CREDENTIALS
        if not user.account_enabled:
            return FAILED
        if tenant.security_defaults_enabled:
            return SECURITY_DEFAULTS
        if user.per_user_mfa_state == "enforced" or _blocked_by_conditional_access(tenant, user):
            return CRITERIA
        if not user.assigned_licenses:
            return FAILED
        return _mailbox_reply(tenant, user)


def record_sign_in(state: SandboxState, address: str, reply: str, ip: str) -> None:
    """Log the Entra ID sign-in a Basic AUTH attempt leaves ("Authenticated SMTP"), when Entra saw one.

    Nothing is logged when Exchange refused before asking Entra (Basic retired, an authentication policy) or
    the user is unknown, nor for security defaults (the code Entra logs for that block is not confirmed).
    Entra's password check passes when only Exchange's switch, licence or mailbox stops the sender: code 0.
    """
    with state.lock:
        found = find_mailbox_user(state, address)
        if found is None or reply in (BASIC_RETIRED, BASIC_DISABLED, SECURITY_DEFAULTS):
            return
        tenant, user = found
        if reply == BAD_CREDENTIALS:
            code = 50126
        elif reply == FAILED and not user.account_enabled:
            code = 50057
        elif reply == CRITERIA:
            code = 50076 if user.per_user_mfa_state == "enforced" else 53003
        else:
            code = 0
        add_sign_in(tenant, user.id, state.clock.now(), ip, code)


def oauth_reply(state: SandboxState, address: str, token: str) -> str:
    """The reply to AUTH XOAUTH2 for `address` with the bearer `token`."""
    check = check_bearer(
        state, Call("AUTH", "/", {}, {"authorization": f"Bearer {token}"}, b"", ""), "exchange"
    )
    claims = check.claims
    if claims is None:
        return FAILED
    with state.lock:
        found = find_mailbox_user(state, address)
        if found is None or found[0].id != claims.get("tid"):
            return FAILED
        if not app_has_access(found[0], found[1], str(claims.get("oid", "")), SEND_AS_APP in claims.get("roles", ())):
            return FAILED
        return _mailbox_reply(*found)


def app_has_access(tenant: TenantState, user: User, sp_object_id: str, consented: bool) -> bool:
    """Whether the app whose service principal is `sp_object_id` may send as `user` (see the module's XOAUTH2 step 3)."""
    access = tenant.app_access
    sp = access.service_principal(sp_object_id)
    if sp is None or user.mailbox is None:
        return False
    if consented:
        # "Including the SMTP.SendAsApp claim would trigger an unnecessary check for mailbox permissions"
        # (learn.microsoft.com/exchange/client-developer/legacy-protocols/smtp-app-rbac-onboarding, 10/2025): with
        # the claim in the token, the mailbox permission decides, and a scoped role alone is not enough.
        return any(
            p.mailbox_id == user.id and p.user == sp.object_id and "FullAccess" in p.access_rights
            for p in access.mailbox_permissions
        )
    return any(
        a.app == sp.object_id and a.role == SMTP_SEND_AS_APP_ROLE
        and in_scope(access.scope(a.custom_resource_scope) if a.custom_resource_scope else None, user)
        for a in access.assignments
    )


def find_mailbox_user(state: SandboxState, address: str) -> tuple[TenantState, User] | None:
    """The tenant (by the address's domain) and the user whose UPN or mail address is `address`."""
    tenant = state.find_tenant(address.rpartition("@")[2])
    if tenant is None:
        return None
    user = tenant.users.first(address.lower(), ("upn", "mail"))
    return (tenant, user) if user is not None else None


def _basic_allowed(tenant: TenantState, user: User) -> bool:
    name = user.authentication_policy or tenant.default_authentication_policy
    policy = tenant.authentication_policy(name) if name else None
    return policy is None or policy.switches["AllowBasicAuthSmtp"]


def _password_matches(user: User, password: str) -> bool:
    return user.smtp_password is not None and hmac.compare_digest(
        password.encode(), user.smtp_password.encode()
    )


def _blocked_by_conditional_access(tenant: TenantState, user: User) -> bool:
    member_of = tenant.member_of(user)
    sign_in = LegacySignIn(
        user.id,
        groups=frozenset(m.id for m in member_of if isinstance(m, Group)),
        role_templates=frozenset(m.role_template_id for m in member_of if isinstance(m, DirectoryRole)),
        guest=user.user_type == "Guest",
    )
    return bool(blocking_policies(tenant.conditional_access_policies, sign_in))


def _mailbox_reply(tenant: TenantState, user: User) -> str:
    if user.mailbox is None:
        return FAILED
    if user.mailbox.smtp_client_authentication_disabled:
        return SMTP_AUTH_DISABLED.format(scope="Mailbox")
    if (
        user.mailbox.smtp_client_authentication_disabled is None
        and tenant.smtp_client_authentication_disabled
    ):
        return SMTP_AUTH_DISABLED.format(scope="Tenant")
    return SUCCESS


def what_blocks(state: SandboxState, user: User) -> str:
    """What stops `user` signing in to SMTP with its own password right now, in words; "nothing" if it works."""
    if user.smtp_password is None:
        return "no SMTP password in the sandbox (Basic AUTH cannot succeed)"
    reply = basic_reply(state, user.user_principal_name, user.smtp_password)
    if reply == FAILED:
        return ("sign-in blocked (account disabled)" if not user.account_enabled
                else "no licence" if not user.assigned_licenses else "no mailbox")
    if reply == CRITERIA and user.per_user_mfa_state != "disabled":
        return f"per-user MFA ({user.per_user_mfa_state})"
    return _BLOCKERS.get(reply, reply)


_BLOCKERS = {
    SUCCESS: "nothing: SMTP AUTH with its password works",
    BASIC_RETIRED: "Basic auth retired for the whole sandbox",
    BASIC_DISABLED: "an authentication policy with AllowBasicAuthSmtp off",
    SECURITY_DEFAULTS: "the tenant's security defaults",
    CRITERIA: "a Conditional Access policy blocking legacy sign-in",
    SMTP_AUTH_DISABLED.format(scope="Mailbox"): "SMTP AUTH off for the mailbox",
    SMTP_AUTH_DISABLED.format(scope="Tenant"): "SMTP AUTH off for the organisation, which the mailbox inherits",
}
