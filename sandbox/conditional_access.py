"""Entra ID's Conditional Access verdict on a legacy sign-in to Exchange Online (SMTP AUTH with a password).

The sandbox's own reading of the v1.0 `conditionalAccessPolicy` schema, kept apart from the product's check
so that a sandbox-backed test can catch a bug there. A policy blocks the sign-in when it is `enabled` (a
report-only `enabledForReportingButNotEnforced` policy is logged, never enforced) and all of:

- users: `includeUsers` holds `All`, the user's id, or `GuestsOrExternalUsers` for a guest, or one of the
  user's groups is in `includeGroups`, or one of the role templates the user holds is in `includeRoles`;
  and no exclusion of the same kinds names the user (`None` includes nobody; exclusions win);
- applications: `includeApplications` holds `All`, `Office365` or Exchange Online's app id, and
  `excludeApplications` holds neither `Office365` nor that id;
- client apps: `clientAppTypes` holds `all` or `other` (SMTP, POP and IMAP are "other clients"; Graph
  always returns the list, and a policy that does not set it covers every client app);
- grant controls: it has any. A legacy client cannot answer an MFA prompt, prove a compliant or joined
  device, accept terms of use or meet an authentication strength, so every control fails; a policy with
  session controls only grants access.

Locations, platforms, devices and risk levels are taken to match: the sandbox does not model them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

EXCHANGE_ONLINE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
ENFORCED = "enabled"
_EXCHANGE = frozenset({"office365", EXCHANGE_ONLINE_APP_ID})
_LEGACY_CLIENTS = frozenset({"all", "other"})
_GRANT_KEYS = ("builtInControls", "customAuthenticationFactors", "termsOfUse", "authenticationStrength")


@dataclass(frozen=True)
class LegacySignIn:
    """A user signing in to Exchange Online with a password from a legacy ("other") client."""

    user_id: str
    groups: frozenset[str] = frozenset()
    role_templates: frozenset[str] = frozenset()
    guest: bool = False


def blocking_policies(policies: Iterable[dict[str, Any]], sign_in: LegacySignIn) -> list[dict[str, Any]]:
    """The enforced policies that refuse `sign_in`, in the order given."""
    return [p for p in policies if p.get("state") == ENFORCED and applies(p, sign_in) and _grants_nothing(p)]


def applies(policy: dict[str, Any], sign_in: LegacySignIn) -> bool:
    """Whether `policy`'s conditions cover `sign_in`, whatever its state and controls."""
    conditions = policy.get("conditions") or {}
    return (
        _covers_user(conditions.get("users") or {}, sign_in)
        and _covers_exchange(conditions.get("applications") or {})
        and _covers_legacy_clients(conditions.get("clientAppTypes"))
    )


def _lower(values: Iterable[str] | None) -> set[str]:
    return {value.lower() for value in values or ()}


def _names(users: dict[str, Any], kind: str, sign_in: LegacySignIn) -> bool:
    """Whether the `include` or `exclude` lists (`kind`) of a policy's users condition name this user."""
    people = _lower(users.get(f"{kind}Users"))
    return bool(
        sign_in.user_id.lower() in people
        or (sign_in.guest and "guestsorexternalusers" in people)
        or {g.lower() for g in sign_in.groups} & _lower(users.get(f"{kind}Groups"))
        or {r.lower() for r in sign_in.role_templates} & _lower(users.get(f"{kind}Roles"))
    )


def _covers_user(users: dict[str, Any], sign_in: LegacySignIn) -> bool:
    everyone = "all" in _lower(users.get("includeUsers"))
    return (everyone or _names(users, "include", sign_in)) and not _names(users, "exclude", sign_in)


def _covers_exchange(applications: dict[str, Any]) -> bool:
    included = _lower(applications.get("includeApplications"))
    excluded = _lower(applications.get("excludeApplications"))
    return bool("all" in included or included & _EXCHANGE) and not excluded & _EXCHANGE


def _covers_legacy_clients(client_app_types: list[str] | None) -> bool:
    return not client_app_types or bool(_lower(client_app_types) & _LEGACY_CLIENTS)


def _grants_nothing(policy: dict[str, Any]) -> bool:
    grant = policy.get("grantControls") or {}
    return any(grant.get(key) for key in _GRANT_KEYS)
