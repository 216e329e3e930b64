"""explain() JSON shape and format_explanation() terminal text."""

from __future__ import annotations

import json

import pytest

from bot.diagnosis import SAMPLES, Sample, explain, format_explanation

TENANT = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit "
    "https://aka.ms/smtp_auth_disabled for more information. "
    "[BN8PR12CA0032.namprd12.prod.outlook.com 2026-11-28T10:00:00.000Z 08DE1A2B3C4D5E6F]"
)
KEYS = {
    "cause",
    "title",
    "code",
    "enhanced_status",
    "explanation",
    "steps",
    "checks",
    "advice",
    "transient",
    "docs",
    "reply",
    "suffix",
    "matched_by",
    "raw",
}


def test_explain_shape() -> None:
    d = explain(TENANT)
    assert set(d) == KEYS
    assert d["cause"] == "smtp_auth_disabled_tenant"
    assert d["code"] == 535 and d["enhanced_status"] == "5.7.139"
    assert d["steps"] == ["mailbox_smtp_auth", "org_smtp_auth"]
    assert d["checks"] == ["basic_auth_retirement"]
    assert d["transient"] is False
    assert d["docs"] == "https://aka.ms/smtp_auth_disabled"
    assert d["reply"] == (
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit "
        "https://aka.ms/smtp_auth_disabled for more information."
    )
    assert d["suffix"].startswith("[BN8PR12CA0032")
    assert d["raw"] == TENANT


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.cause)
def test_explain_is_json_ready(sample: Sample) -> None:
    d = explain(sample.reply)
    assert json.loads(json.dumps(d)) == d
    assert d["cause"] == sample.cause


WIDENED = {
    "org_config_disallows_auth",
    "relay_connector_mismatch",
    "relay_denied",
    "server_busy",
    "too_many_recipients",
    "message_too_large",
}
"""Causes added from Microsoft's NDR pages and public issue trackers (issue #11, item 14)."""
WIDENED_SAMPLES = [s for s in SAMPLES if s.cause in WIDENED or s.cause == "sending_quota_exceeded"]


def test_every_widened_cause_has_a_sample() -> None:
    assert {s.cause for s in WIDENED_SAMPLES} >= WIDENED


@pytest.mark.parametrize("sample", WIDENED_SAMPLES, ids=lambda s: f"{s.cause}:{s.reply[:30]}")
def test_explain_handles_the_widened_samples(sample: Sample) -> None:
    d = explain(sample.reply)
    assert d["cause"] == sample.cause
    assert d["docs"] and d["docs"].startswith("https://learn.microsoft.com/")
    out = format_explanation(d)
    assert f"[{sample.cause}]" in out and "Raw reply:" not in out


def test_explain_unclassified_keeps_raw() -> None:
    raw = "  550 5.4.1 Recipient address rejected: Access denied\n"
    d = explain(raw)
    assert d["cause"] == "unclassified"
    assert d["raw"] == raw
    assert d["reply"] == "550 5.4.1 Recipient address rejected: Access denied"
    assert d["steps"] == [] and d["checks"] == [] and d["docs"] is None


def test_format_explanation_for_a_known_cause() -> None:
    out = format_explanation(explain(TENANT))
    assert out.startswith("SMTP AUTH is turned off for the organisation [smtp_auth_disabled_tenant]")
    assert "1. mailbox_smtp_auth:" in out and "2. org_smtp_auth:" in out
    assert "basic_auth_retirement" in out
    assert "Docs: https://aka.ms/smtp_auth_disabled" in out
    assert "Retry: will keep failing" in out
    assert "|" not in out and "**" not in out
    assert max(len(line) for line in out.splitlines()) <= 200


def test_format_explanation_transient_and_unclassified() -> None:
    assert "Retry: temporary" in format_explanation(explain("454 4.7.0 Temporary authentication failure"))
    out = format_explanation(explain("550 5.4.1 Recipient address rejected:\nAccess denied"))
    assert "[unclassified]" in out
    assert "Raw reply:\n  550 5.4.1 Recipient address rejected:\n  Access denied" in out
    assert "Retry: not known to be temporary." in out
