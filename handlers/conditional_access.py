"""Advisory: enabled Conditional Access policies that block legacy ("other") clients for this user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers.base import Check, Finding, Permission, Status

if TYPE_CHECKING:
    from handlers.facts import Facts, Memberships

EXCHANGE_ONLINE_APP = "00000002-0000-0ff1-ce00-000000000000"
LEGACY_CLIENT_TYPES = frozenset({"all", "other"})
UNCONDITIONAL = ("locations", "platforms", "devices", "signInRiskLevels", "userRiskLevels")


def _ids(values: list[str] | None) -> set[str]:
    return {str(v).lower() for v in values or []}


def user_in_scope(policy: dict[str, Any], user_id: str, memberships: Memberships) -> bool | None:
    """Whether the policy's user conditions take in the user; None when that hinges on a role whose template
    id Graph did not return (policies name roles by template id, `includeRoles`/`excludeRoles`)."""
    users = (policy.get("conditions") or {}).get("users") or {}
    me, ids = {user_id.lower()}, memberships.ids
    roles_unknown = memberships.unreadable_roles > 0
    if me & _ids(users.get("excludeUsers")) or ids & _ids(users.get("excludeGroups")) \
            or ids & _ids(users.get("excludeRoles")):
        return False
    included = bool(
        "all" in _ids(users.get("includeUsers"))
        or me & _ids(users.get("includeUsers"))
        or ids & _ids(users.get("includeGroups"))
        or ids & _ids(users.get("includeRoles"))
    )
    if roles_unknown and (users.get("excludeRoles") if included else users.get("includeRoles")):
        return None
    return included


def targets_exchange(policy: dict[str, Any]) -> bool:
    apps = (policy.get("conditions") or {}).get("applications") or {}
    include, exclude = _ids(apps.get("includeApplications")), _ids(apps.get("excludeApplications"))
    return bool(include & {"all", "office365", EXCHANGE_ONLINE_APP}) and not exclude & {"office365", EXCHANGE_ONLINE_APP}


def blocks_legacy(policy: dict[str, Any]) -> bool:
    """Legacy clients can satisfy no grant control: block, MFA, compliant device ... all stop them."""
    conditions = policy.get("conditions") or {}
    if not _ids(conditions.get("clientAppTypes")) & LEGACY_CLIENT_TYPES:
        return False
    grant = policy.get("grantControls") or {}
    return bool(grant.get("builtInControls") or grant.get("authenticationStrength") or grant.get("termsOfUse"))


def legacy_only(policy: dict[str, Any]) -> bool:
    """The policy targets legacy client types only ("other", Exchange ActiveSync), so OAuth sign-ins escape it."""
    return "all" not in _ids((policy.get("conditions") or {}).get("clientAppTypes"))


def conditions_beyond_user(policy: dict[str, Any]) -> list[str]:
    conditions = policy.get("conditions") or {}
    return [name for name in UNCONDITIONAL if conditions.get(name)]


OAUTH_OK = ("No Conditional Access policy applies to this user's OAuth (XOAUTH2) sign-ins; policies that block "
            "legacy authentication do not affect OAuth.")
OAUTH_CA_ADVICE = ("A token the device gets as this user (delegated SMTP.Send) must satisfy them; an app-only token "
                   "(SMTP.SendAsApp) is not subject to policies scoped to users.")


class ConditionalAccess(Check):
    key = "conditional_access"
    title = "Conditional Access"
    label = "Conditional Access policies that block legacy auth or require MFA"
    report_order = 70
    docs = "https://learn.microsoft.com/entra/identity/conditional-access/policy-block-legacy-authentication"
    permissions = (
        Permission("Policy.Read.All", "Microsoft Graph", "list Conditional Access policies",
                   covered_by=("Policy.ReadWrite.ConditionalAccess",)),
        Permission("GroupMember.Read.All", "Microsoft Graph", "resolve the user's groups and roles",
                   covered_by=("Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
                               "Directory.ReadWrite.All")),
        # Without it Graph hides a role's roleTemplateId, which is what includeRoles/excludeRoles hold
        # (directoryrole-list-members: least privileged RoleManagement.Read.Directory).
        Permission("RoleManagement.Read.Directory", "Microsoft Graph",
                   "read the template ids of the user's directory roles",
                   covered_by=("RoleManagement.ReadWrite.Directory", "Directory.Read.All", "Directory.ReadWrite.All")),
    )

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        user = facts.user(upn)
        policies = [p for p in facts.ca_policies() if p.get("state") != "disabled" and targets_exchange(p)
                    and blocks_legacy(p) and not (auth_mode == "oauth" and legacy_only(p))]
        if not policies and auth_mode == "oauth":
            return self.finding(Status.OK, OAUTH_OK)
        if not policies:
            return self.finding(Status.OK, "No Conditional Access policy blocks legacy authentication.")
        memberships = facts.memberships(upn)
        enforced, report_only, unknown = [], [], []
        for policy in policies:
            in_scope = user_in_scope(policy, user.id, memberships)
            if in_scope is None:
                unknown.append(policy.get("displayName", policy.get("id", "?")))
            if not in_scope:
                continue
            extra = conditions_beyond_user(policy)
            label = policy.get("displayName", policy.get("id", "?")) + (
                f" (only under its {', '.join(extra)} conditions)" if extra else "")
            (enforced if policy.get("state") == "enabled" else report_only).append(label)
        evidence = {"blocking": enforced, "report_only": report_only, "not_evaluated": unknown}
        if enforced and auth_mode != "oauth":
            return self.finding(
                Status.BLOCKED,
                "Conditional Access blocks legacy authentication, which includes Basic SMTP AUTH, for this "
                f"user: {'; '.join(enforced)}.",
                evidence=evidence,
                advice="Exclude this service account from the policy with a narrowly scoped group (and a "
                "named-location condition), or move the device to OAuth. Check the Entra sign-in logs "
                "(client app 'Authenticated SMTP') to confirm.",
            )
        if unknown:
            return self.finding(
                Status.UNKNOWN,
                "Could not evaluate Conditional Access polic" + ("ies " if len(unknown) > 1 else "y ")
                + f"{'; '.join(unknown)}: scoped to directory roles, and Graph did not return the template "
                "ids of this user's roles.",
                evidence=evidence,
                advice="Grant the app the Microsoft Graph application permission RoleManagement.Read.Directory "
                "(and admin consent), then diagnose again.",
            )
        if enforced:
            return self.finding(Status.WARN, "Policies for every client app, OAuth included, apply to this user: "
                                f"{'; '.join(enforced)}.", evidence=evidence, advice=OAUTH_CA_ADVICE)
        if report_only:
            effect = "apply to this user's OAuth sign-ins" if auth_mode == "oauth" else \
                "block legacy authentication for this user"
            return self.finding(Status.WARN, f"Report-only policies would {effect} once enforced: "
                                f"{'; '.join(report_only)}.", evidence=evidence)
        if auth_mode == "oauth":
            return self.finding(Status.OK, OAUTH_OK, evidence=evidence)
        return self.finding(Status.OK, "Legacy-auth policies exist but do not apply to this user.", evidence=evidence)
