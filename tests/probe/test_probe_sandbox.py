"""The real probe against the sandbox's Exchange-like SMTP server, in every tenant state it can be in."""

from __future__ import annotations

import smtplib
import ssl

import pytest

from bot.probe import ProbeTarget, probe
from handlers import REMEDIATIONS

PASSWORDS = {
    "printer@contoso.com": "Printer-Sandbox-1", "scanner@contoso.com": "Scanner-Sandbox-1",
    "copier@contoso.com": "Copier-Sandbox-1", "erp@contoso.com": "Erp-Sandbox-1", "crm@contoso.com": "Crm-Sandbox-1",
    "fax@contoso.com": "Fax-Sandbox-1", "oldscanner@contoso.com": "OldScanner-Sandbox-1",
    "admin@contoso.com": "Admin-Sandbox-1", "mfp@fabrikam.com": "Mfp-Sandbox-1",
}


def target(sandbox, mailbox: str, **options) -> ProbeTarget:
    return ProbeTarget(host="localhost", port=sandbox.smtp.port, mailbox=mailbox, ca_file=str(sandbox.ca_path),
                       timeout=5.0, **options)


@pytest.mark.parametrize(("mailbox", "cause"), [
    ("printer@contoso.com", "ok"),
    ("scanner@contoso.com", "smtp_auth_disabled_mailbox"),
    ("copier@contoso.com", "smtp_auth_disabled_tenant"),
    ("erp@contoso.com", "conditional_access_or_mfa"),
    ("crm@contoso.com", "conditional_access_or_mfa"),
    ("admin@contoso.com", "conditional_access_or_mfa"),
    ("fax@contoso.com", "basic_auth_disabled_policy"),
    ("oldscanner@contoso.com", "auth_failed"),
    ("mfp@fabrikam.com", "security_defaults"),
])
def test_each_demo_mailbox_is_classified(sandbox, mailbox, cause):
    result = probe(target(sandbox, mailbox), credential=PASSWORDS[mailbox])
    assert result.cause == cause, result.message
    assert result.ok is (cause == "ok")
    assert result.tls_version in ("TLSv1.2", "TLSv1.3") and result.cert_days_left is not None
    assert result.auth_mode == "basic"
    assert PASSWORDS[mailbox] not in repr(result.to_dict())


def test_wrong_password_and_retired_basic(sandbox):
    assert probe(target(sandbox, "printer@contoso.com"), credential="wrong").cause == "bad_credentials"
    sandbox.state.set_basic_auth_retired(True)
    result = probe(target(sandbox, "printer@contoso.com"), credential=PASSWORDS["printer@contoso.com"])
    assert result.cause == "basic_auth_retired" and result.reply.enhanced_status == "5.7.30"


def test_mail_from_without_auth_is_not_authenticated(sandbox):
    result = probe(target(sandbox, "printer@contoso.com", auth="none", submit_to="it@contoso.com"))
    assert result.cause == "not_authenticated" and result.reply.code == 530


def test_submission_after_auth_reaches_the_sandbox(sandbox):
    result = probe(target(sandbox, "printer@contoso.com", submit_to="it@contoso.com"),
                   credential=PASSWORDS["printer@contoso.com"])
    assert result.ok and result.submitted
    [message] = sandbox.smtp.messages
    assert message.mailbox == "printer@contoso.com"


def test_a_fix_through_the_handler_changes_what_the_next_probe_sees(sandbox, make_m365):
    scanner = target(sandbox, "scanner@contoso.com")
    assert probe(scanner, credential=PASSWORDS["scanner@contoso.com"]).cause == "smtp_auth_disabled_mailbox"
    change = REMEDIATIONS["mailbox_smtp_auth"].apply(make_m365(), "scanner@contoso.com", True)
    assert probe(scanner, credential=PASSWORDS["scanner@contoso.com"]).ok
    REMEDIATIONS["mailbox_smtp_auth"].revert(make_m365(), change)
    assert probe(scanner, credential=PASSWORDS["scanner@contoso.com"]).cause == "smtp_auth_disabled_mailbox"


def test_xoauth2_with_an_app_token(sandbox, make_m365):
    _, client_id, _ = sandbox.creds()
    sandbox.state.grant(client_id, "SMTP.SendAsApp")
    m365 = make_m365()
    token = m365.tokens.token("https://outlook.office365.com/.default")
    refused = probe(target(sandbox, "erp@contoso.com", auth="xoauth2"), credential=token)
    assert not refused.ok  # consent alone gives no mailbox: Exchange needs the service principal and FullAccess
    for mailbox in ("erp@contoso.com", "scanner@contoso.com"):
        sandbox.state.grant_mailbox(client_id, mailbox)
    result = probe(target(sandbox, "erp@contoso.com", auth="xoauth2"), credential=token)
    assert result.ok and result.auth_mode == "oauth"  # per-user MFA does not block OAuth
    assert token not in repr(result.to_dict())
    blocked = probe(target(sandbox, "scanner@contoso.com", auth="xoauth2"), credential=token)
    assert blocked.cause == "smtp_auth_disabled_mailbox"  # the SMTP AUTH switch applies to OAuth too


def test_fourth_connection_for_one_mailbox_is_limited(sandbox):
    context = ssl.create_default_context(cafile=str(sandbox.ca_path))
    held = []
    try:
        for _ in range(3):
            client = smtplib.SMTP("localhost", sandbox.smtp.port, timeout=5)
            client.starttls(context=context)
            client.login("printer@contoso.com", PASSWORDS["printer@contoso.com"])
            held.append(client)
        result = probe(target(sandbox, "printer@contoso.com"), credential=PASSWORDS["printer@contoso.com"])
        assert result.cause == "concurrent_connection_limit" and result.reply.code == 432
    finally:
        for client in held:
            client.quit()
    assert probe(target(sandbox, "printer@contoso.com"), credential=PASSWORDS["printer@contoso.com"]).ok
