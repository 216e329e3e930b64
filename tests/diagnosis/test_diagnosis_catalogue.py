"""The cause catalogue: stable keys, complete texts, known handler and check keys."""

from __future__ import annotations

import dataclasses

import pytest

from bot.diagnosis import CATALOGUE, CHECK_LABELS, RULES, STEP_LABELS, Cause, get_cause
from handlers import CHECKS, REMEDIATIONS

PUBLIC_KEYS = [
    "smtp_auth_disabled_tenant",
    "smtp_auth_disabled_mailbox",
    "security_defaults",
    "basic_auth_disabled_policy",
    "conditional_access_or_mfa",
    "bad_credentials",
    "account_locked",
    "federation_sts_unreachable",
    "basic_auth_retired",
    "not_authenticated",
    "auth_failed",
    "send_as_denied",
    "sender_throttled",
    "concurrent_connection_limit",
    "tls_version_unsupported",
    "starttls_required",
    "auth_mechanism_unsupported",
    "xoauth2_malformed",
    "temporary_auth_failure",
    "tenant_or_ip_blocked",
    "sender_restricted",
    "org_config_disallows_auth",
    "relay_connector_mismatch",
    "relay_denied",
    "server_busy",
    "too_many_recipients",
    "message_too_large",
    "unclassified",
]


@pytest.mark.parametrize("key", PUBLIC_KEYS)
def test_public_cause_keys_exist(key: str) -> None:
    assert get_cause(key).key == key


def test_labels_come_from_the_registry() -> None:
    assert dict(STEP_LABELS) == {key: r.label for key, r in REMEDIATIONS.items()}
    assert dict(CHECK_LABELS) == {key: c.label for key, c in CHECKS.items()}


@pytest.mark.parametrize("cause", CATALOGUE.values(), ids=lambda c: c.key)
def test_cause_is_complete(cause: Cause) -> None:
    assert CATALOGUE[cause.key] is cause
    assert cause.title.strip() and cause.explanation.strip() and cause.advice.strip()
    assert set(cause.steps) <= set(REMEDIATIONS)
    assert set(cause.checks) <= set(CHECKS)
    assert len(set(cause.steps)) == len(cause.steps) and len(set(cause.checks)) == len(cause.checks)
    assert cause.docs is None or cause.docs.startswith("https://")


def test_tenant_fix_prefers_the_mailbox_switch() -> None:
    assert get_cause("smtp_auth_disabled_tenant").steps == ("mailbox_smtp_auth", "org_smtp_auth")
    assert get_cause("smtp_auth_disabled_mailbox").steps == ("mailbox_smtp_auth",)
    assert get_cause("security_defaults").steps == ("security_defaults",)


def test_docs_links_from_the_replies() -> None:
    assert get_cause("smtp_auth_disabled_tenant").docs == "https://aka.ms/smtp_auth_disabled"
    assert get_cause("smtp_auth_disabled_mailbox").docs == "https://aka.ms/smtp_auth_disabled"
    assert get_cause("tls_version_unsupported").docs == "https://aka.ms/smtp_auth_tls"


def test_uncertain_attribution_is_said_out_loud() -> None:
    assert "not a certain one" in get_cause("conditional_access_or_mfa").explanation
    assert "does not document" in get_cause("auth_mechanism_unsupported").explanation


def test_xoauth2_reply_covers_a_bad_user_address() -> None:
    cause = get_cause("xoauth2_malformed")
    assert "User address provided is not valid" in cause.explanation
    assert "High Volume Email" in cause.explanation
    assert "user=" in cause.advice


def test_transient_flags() -> None:
    transient = {key for key, cause in CATALOGUE.items() if cause.transient}
    assert transient == {
        "sending_quota_exceeded",
        "concurrent_connection_limit",
        "temporary_auth_failure",
        "server_busy",
    }


def test_causes_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_cause("auth_failed").title = "x"  # type: ignore[misc]


def test_catalogue_is_read_only() -> None:
    with pytest.raises(TypeError):
        CATALOGUE["x"] = get_cause("auth_failed")  # type: ignore[index]


def test_unknown_key() -> None:
    with pytest.raises(KeyError, match="unknown cause 'nope'"):
        get_cause("nope")


def test_every_rule_points_at_a_catalogued_cause() -> None:
    assert {rule.cause for rule in RULES} <= set(CATALOGUE)
    assert {rule.cause for rule in RULES} == set(CATALOGUE) - {"unclassified"}
