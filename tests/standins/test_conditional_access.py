"""The sandbox's own Conditional Access evaluator, rule by rule, on a legacy sign-in to Exchange Online."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.conditional_access import EXCHANGE_ONLINE_APP_ID, LegacySignIn, applies, blocking_policies

USER = "6f1b7a52-0c1d-4a0e-9d7e-1f2a3b4c5d6e"
GROUP = "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
OTHER = "11111111-2222-3333-4444-555555555555"
STRENGTH = "00000000-0000-0000-0000-000000000002"
SIGN_IN = LegacySignIn(USER, groups=frozenset({GROUP}), role_templates=frozenset({GLOBAL_ADMIN}))


def policy(*, state: str = "enabled", users: dict[str, list[str]] | None = None,
           apps: dict[str, list[str]] | None = None, clients: list[str] | None = None,
           grant: dict[str, Any] | None = None) -> dict[str, Any]:
    """A v1.0 conditionalAccessPolicy blocking legacy clients for everyone, with the given parts replaced."""
    return {
        "displayName": "under test",
        "state": state,
        "conditions": {
            "users": {"includeUsers": ["All"]} if users is None else users,
            "applications": {"includeApplications": ["All"]} if apps is None else apps,
            "clientAppTypes": ["other"] if clients is None else clients,
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]} if grant is None else grant,
    }


@pytest.mark.parametrize(("users", "covered"), [
    ({"includeUsers": ["All"]}, True),
    ({"includeUsers": [USER.upper()]}, True),
    ({"includeUsers": [OTHER]}, False),
    ({"includeUsers": ["None"]}, False),
    ({"includeUsers": ["GuestsOrExternalUsers"]}, False),
    ({"includeGroups": [GROUP]}, True),
    ({"includeGroups": [OTHER]}, False),
    ({"includeRoles": [GLOBAL_ADMIN]}, True),
    ({"includeRoles": [OTHER]}, False),
    ({"includeUsers": ["All"], "excludeUsers": [USER]}, False),
    ({"includeUsers": ["All"], "excludeGroups": [GROUP]}, False),
    ({"includeUsers": ["All"], "excludeRoles": [GLOBAL_ADMIN]}, False),
    ({"includeGroups": [GROUP], "excludeUsers": [OTHER]}, True),
    ({"includeUsers": [USER], "excludeGroups": [GROUP]}, False),
    ({}, False),
])
def test_users_include_and_exclude(users: dict[str, list[str]], covered: bool) -> None:
    assert applies(policy(users=users), SIGN_IN) is covered


@pytest.mark.parametrize(("users", "covered"), [
    ({"includeUsers": ["GuestsOrExternalUsers"]}, True),
    ({"includeUsers": ["All"], "excludeUsers": ["GuestsOrExternalUsers"]}, False),
])
def test_guests(users: dict[str, list[str]], covered: bool) -> None:
    assert applies(policy(users=users), LegacySignIn(USER, guest=True)) is covered


@pytest.mark.parametrize(("apps", "covered"), [
    ({"includeApplications": ["All"]}, True),
    ({"includeApplications": ["Office365"]}, True),
    ({"includeApplications": [EXCHANGE_ONLINE_APP_ID]}, True),
    ({"includeApplications": [OTHER]}, False),
    ({"includeApplications": ["None"]}, False),
    ({"includeApplications": []}, False),
    ({"includeApplications": ["All"], "excludeApplications": ["Office365"]}, False),
    ({"includeApplications": ["All"], "excludeApplications": [EXCHANGE_ONLINE_APP_ID]}, False),
    ({"includeApplications": ["All"], "excludeApplications": [OTHER]}, True),
])
def test_applications(apps: dict[str, list[str]], covered: bool) -> None:
    assert applies(policy(apps=apps), SIGN_IN) is covered


@pytest.mark.parametrize(("clients", "covered"), [
    (["other"], True),
    (["all"], True),
    (["exchangeActiveSync", "other"], True),
    (["browser", "mobileAppsAndDesktopClients"], False),
    (["exchangeActiveSync"], False),
    ([], True),
])
def test_client_app_types(clients: list[str], covered: bool) -> None:
    assert applies(policy(clients=clients), SIGN_IN) is covered


@pytest.mark.parametrize(("grant", "blocked"), [
    ({"operator": "OR", "builtInControls": ["block"]}, True),
    ({"operator": "OR", "builtInControls": ["mfa"]}, True),
    ({"operator": "OR", "builtInControls": ["mfa", "compliantDevice"]}, True),
    ({"operator": "AND", "builtInControls": ["domainJoinedDevice"]}, True),
    ({"operator": "OR", "builtInControls": [], "authenticationStrength": {"id": STRENGTH}}, True),
    ({"operator": "OR", "builtInControls": [], "termsOfUse": [OTHER]}, True),
    ({"operator": "OR", "builtInControls": []}, False),
    ({}, False),
])
def test_grant_controls(grant: dict[str, Any], blocked: bool) -> None:
    assert bool(blocking_policies([policy(grant=grant)], SIGN_IN)) is blocked


@pytest.mark.parametrize(("state", "blocked"), [
    ("enabled", True),
    ("enabledForReportingButNotEnforced", False),
    ("disabled", False),
])
def test_only_enabled_policies_are_enforced(state: str, blocked: bool) -> None:
    assert bool(blocking_policies([policy(state=state)], SIGN_IN)) is blocked


def test_blocking_policies_lists_each_refusing_policy_in_order() -> None:
    first, report_only, other_app, second = (
        policy(), policy(state="enabledForReportingButNotEnforced"),
        policy(apps={"includeApplications": [OTHER]}), policy(grant={"builtInControls": ["mfa"]}),
    )
    assert blocking_policies([first, report_only, other_app, second], SIGN_IN) == [first, second]
