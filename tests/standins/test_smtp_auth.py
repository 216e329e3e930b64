"""SMTP stand-in AUTH: each demo mailbox's exact Exchange reply, changes through the HTTP API, XOAUTH2."""

from __future__ import annotations

import base64
import re
import smtplib
import ssl

import pytest

from sandbox.launcher import Sandbox

from .conftest import EXCHANGE, GRAPH, Api

SUFFIX = re.compile(
    r" \[[A-Z0-9]+\.namprd\d\d\.prod\.outlook\.com \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 08DE[0-9A-F]{12}\]$"
)
OK = "235 2.7.0 Authentication successful"
FAILED = "535 5.7.3 Authentication unsuccessful"
CRITERIA = (
    "535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated "
    "successfully. Contact your administrator."
)
BAD_CREDENTIALS = "535 5.7.139 Authentication unsuccessful, the user credentials were incorrect."
MAILBOX_OFF = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. "
    "Visit https://aka.ms/smtp_auth_disabled for more information."
)
TENANT_OFF = MAILBOX_OFF.replace("Mailbox", "Tenant")


def connect(sb: Sandbox, *, tls: bool = True) -> smtplib.SMTP:
    """An smtplib client to the stand-in, after EHLO (and STARTTLS and EHLO again)."""
    client = smtplib.SMTP("localhost", sb.smtp.port, local_hostname="probe.example", timeout=5)
    client.ehlo()
    if tls:
        client.starttls(context=ssl.create_default_context(cafile=str(sb.ca_path)))
        client.ehlo()
    return client


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def auth(client: smtplib.SMTP, mechanism: str, user: str, secret: str) -> str:
    """The final AUTH reply as one line (`code text`), driving the SASL exchange by hand."""
    if mechanism == "LOGIN":
        code, text = client.docmd("AUTH", "LOGIN")
        for answer in (user, secret):
            if code == 334:
                code, text = client.docmd(b64(answer))
    elif mechanism == "PLAIN":
        code, text = client.docmd("AUTH", "PLAIN " + b64(f"\0{user}\0{secret}"))
    else:
        code, text = client.docmd("AUTH", "XOAUTH2 " + b64(f"user={user}\x01auth=Bearer {secret}\x01\x01"))
    return f"{code} {text.decode()}"


def reply_for(sb: Sandbox, user: str, secret: str, mechanism: str = "LOGIN") -> str:
    """The AUTH reply with Exchange's suffix checked and removed."""
    client = connect(sb)
    try:
        reply = auth(client, mechanism, user, secret)
    finally:
        client.close()
    if reply.startswith("235"):
        return reply
    assert SUFFIX.search(reply), reply
    return SUFFIX.sub("", reply)


@pytest.mark.parametrize(
    ("user", "password", "expected"),
    [
        ("printer@contoso.com", "Printer-Sandbox-1", OK),
        ("breakglass@contoso.com", "BreakGlass-Sandbox-1", OK),
        ("scanner@contoso.com", "Scanner-Sandbox-1", MAILBOX_OFF),
        ("copier@contoso.com", "Copier-Sandbox-1", TENANT_OFF),
        ("erp@contoso.com", "Erp-Sandbox-1", CRITERIA),
        ("crm@contoso.com", "Crm-Sandbox-1", CRITERIA),
        ("admin@contoso.com", "Admin-Sandbox-1", CRITERIA),
        (
            "fax@contoso.com",
            "Fax-Sandbox-1",
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
        ),
        (
            "fax@contoso.com",
            "wrong",
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
        ),
        ("oldscanner@contoso.com", "OldScanner-Sandbox-1", FAILED),
        ("kiosk@contoso.com", "Kiosk-Sandbox-1", FAILED),
        (
            "mfp@fabrikam.com",
            "Mfp-Sandbox-1",
            "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security "
            "defaults policy. Contact your administrator.",
        ),
        ("printer@contoso.com", "Printer-Sandbox-2", BAD_CREDENTIALS),
        ("nobody@contoso.com", "Printer-Sandbox-1", BAD_CREDENTIALS),
        ("printer@elsewhere.example", "Printer-Sandbox-1", BAD_CREDENTIALS),
    ],
)
def test_each_demo_mailbox_gets_its_exchange_reply(
    sb: Sandbox, user: str, password: str, expected: str
) -> None:
    with sb.state.lock:  # the seed gives the unlicensed kiosk no password: give it one
        sb.state.tenant("contoso").user("kiosk@contoso.com").smtp_password = "Kiosk-Sandbox-1"
    assert reply_for(sb, user, password) == expected
    assert reply_for(sb, user.upper(), password, "PLAIN") == expected
    assert sb.smtp.sessions[-1].result == " ".join(expected.split()[:2])


def test_smtplib_login_with_the_mechanisms_exchange_offers(sb: Sandbox) -> None:
    client = connect(sb)
    assert client.esmtp_features["auth"].split() == ["LOGIN", "XOAUTH2"]
    assert client.login("printer@contoso.com", "Printer-Sandbox-1") == (
        235,
        b"2.7.0 Authentication successful",
    )
    assert sb.smtp.sessions[-1].mechanism == "LOGIN"
    client.quit()
    sb.smtp.faults.advertise_plain = True
    client = connect(sb)
    assert client.esmtp_features["auth"].split() == ["LOGIN", "PLAIN", "XOAUTH2"]
    client.login("printer@contoso.com", "Printer-Sandbox-1")
    assert sb.smtp.sessions[-1].mechanism == "PLAIN"
    client.quit()


def test_a_change_through_the_exchange_api_shows_on_the_next_auth(api: Api, sb: Sandbox) -> None:
    assert reply_for(sb, "scanner@contoso.com", "Scanner-Sandbox-1") == MAILBOX_OFF
    changed = api.exo(
        "Set-CASMailbox", {"Identity": "scanner@contoso.com", "SmtpClientAuthenticationDisabled": False}
    )
    assert changed.status_code == 200, changed.text
    assert reply_for(sb, "scanner@contoso.com", "Scanner-Sandbox-1") == OK
    assert reply_for(sb, "copier@contoso.com", "Copier-Sandbox-1") == TENANT_OFF
    assert api.exo("Set-TransportConfig", {"SmtpClientAuthenticationDisabled": False}).status_code == 200
    assert reply_for(sb, "copier@contoso.com", "Copier-Sandbox-1") == OK


def test_checks_follow_state_in_exchange_order(sb: Sandbox) -> None:
    contoso, fabrikam = sb.state.tenant("contoso"), sb.state.tenant("fabrikam")
    with sb.state.lock:
        fabrikam.security_defaults_enabled = False
        contoso.user("erp@contoso.com").per_user_mfa_state = "disabled"
        contoso.user("fax@contoso.com").authentication_policy = None
        contoso.default_authentication_policy = "Block Basic Auth"
        contoso.user("printer@contoso.com").authentication_policy = "Allow Basic SMTP"
    assert reply_for(sb, "mfp@fabrikam.com", "Mfp-Sandbox-1") == OK
    assert reply_for(sb, "erp@contoso.com", "Erp-Sandbox-1").endswith("basic authentication is disabled.")
    assert reply_for(sb, "printer@contoso.com", "Printer-Sandbox-1") == OK
    with sb.state.lock:
        contoso.default_authentication_policy = None
        contoso.user("printer@contoso.com").account_enabled = False
        contoso.user("scanner@contoso.com").per_user_mfa_state = "enforced"
    assert reply_for(sb, "erp@contoso.com", "Erp-Sandbox-1") == OK
    assert reply_for(sb, "fax@contoso.com", "Fax-Sandbox-1") == OK
    assert reply_for(sb, "printer@contoso.com", "Printer-Sandbox-1") == FAILED
    assert reply_for(sb, "scanner@contoso.com", "Scanner-Sandbox-1") == CRITERIA  # before the mailbox switch


def test_per_user_mfa_enabled_still_lets_the_password_through(sb: Sandbox) -> None:
    """'Enabled' users can use the password for legacy auth until they register a method (Microsoft Learn)."""
    with sb.state.lock:
        sb.state.tenant("contoso").user("erp@contoso.com").per_user_mfa_state = "enabled"
    assert reply_for(sb, "erp@contoso.com", "Erp-Sandbox-1") == OK


def test_basic_retired_answers_5_7_30_before_anything_else(sb: Sandbox) -> None:
    sb.state.set_basic_auth_retired(True)
    retired = "550 5.7.30 Basic authentication is not supported for Client Submission."
    assert reply_for(sb, "printer@contoso.com", "Printer-Sandbox-1") == retired
    assert reply_for(sb, "nobody@contoso.com", "x", "PLAIN") == retired
    sb.reset()
    assert reply_for(sb, "printer@contoso.com", "Printer-Sandbox-1") == OK


def test_xoauth2_with_a_sandbox_token(api: Api, sb: Sandbox) -> None:
    _, client_id, _ = sb.creds()
    assert reply_for(sb, "printer@contoso.com", api.token(EXCHANGE), "XOAUTH2") == FAILED  # no SMTP.SendAsApp
    sb.state.grant(client_id, "SMTP.SendAsApp")
    token = api.token(EXCHANGE)
    assert reply_for(sb, "printer@contoso.com", token, "XOAUTH2") == FAILED  # consent alone: no mailbox access
    for mailbox in ("printer", "fax", "erp", "crm", "admin", "oldscanner", "scanner", "copier"):
        sb.state.grant_mailbox(client_id, f"{mailbox}@contoso.com")
    sb.state.set_basic_auth_retired(True)
    for mailbox in (
        "printer",
        "fax",
        "erp",
        "crm",
        "admin",
        "oldscanner",
    ):  # Basic-only blockers do not apply
        assert reply_for(sb, f"{mailbox}@contoso.com", token, "XOAUTH2") == OK, mailbox
    assert reply_for(sb, "scanner@contoso.com", token, "XOAUTH2") == MAILBOX_OFF
    assert reply_for(sb, "copier@contoso.com", token, "XOAUTH2") == TENANT_OFF
    assert reply_for(sb, "kiosk@contoso.com", token, "XOAUTH2") == FAILED
    assert reply_for(sb, "mfp@fabrikam.com", token, "XOAUTH2") == FAILED  # another tenant's token
    assert reply_for(sb, "printer@contoso.com", api.token(GRAPH), "XOAUTH2") == FAILED  # audience
    assert reply_for(sb, "printer@contoso.com", token[:-4] + "AAAA", "XOAUTH2") == FAILED  # signature
    sb.state.clock.advance(3600)
    assert reply_for(sb, "printer@contoso.com", token, "XOAUTH2") == FAILED  # expired
    assert reply_for(sb, "printer@contoso.com", api.token(EXCHANGE), "XOAUTH2") == OK


def test_xoauth2_after_a_challenge_and_malformed_blobs(api: Api, sb: Sandbox) -> None:
    sb.state.grant(sb.creds()[1], "SMTP.SendAsApp")
    sb.state.grant_mailbox(sb.creds()[1], "printer@contoso.com")
    token = api.token(EXCHANGE)
    client = connect(sb)
    assert client.docmd("AUTH", "XOAUTH2") == (334, b"")
    assert client.docmd(b64(f"user=printer@contoso.com\x01auth=Bearer {token}\x01\x01"))[0] == 235
    client.close()
    for blob in (b64("user=printer@contoso.com\x01auth=Basic abc\x01\x01"), b64("junk"), "not base64!"):
        client = connect(sb)
        code, text = client.docmd("AUTH", f"XOAUTH2 {blob}")
        client.close()
        assert code == 501 and SUFFIX.sub("", text.decode()) == "5.5.124 Invalid XOAUTH2 auth data", text
