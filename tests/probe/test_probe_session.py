"""A well-behaved, Exchange-like server: STARTTLS, AUTH LOGIN/PLAIN/XOAUTH2, the optional test message."""

from __future__ import annotations

import json
import ssl
from typing import Any

import pytest
from smtp_fakes import AUTH_DISABLED_MAILBOX, ExchangeLike, FakeServer

from bot.clock import FakeClock
from bot.config import load_config
from bot.probe import PHASES, ProbeResult, ProbeTarget, probe

USER = "printer@contoso.com"
PASSWORD = "Pr1nter-Secret!"
TOKEN = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSJ9.c2lnbmF0dXJl"


def exchange(tls: ssl.SSLContext, **options: Any) -> ExchangeLike:
    return ExchangeLike(tls=tls, passwords={USER: PASSWORD}, tokens={USER: TOKEN}, **options)


def target(port: int, ca_file: str, **options: Any) -> ProbeTarget:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "mailbox": USER,
        "ca_file": ca_file,
        "server_hostname": "localhost",
        "timeout": 2.0,
        "ehlo_name": "probe.test",
    }
    return ProbeTarget(**{**settings, **options})


def run(server: ExchangeLike, ca_file: str, credential: Any = PASSWORD, **options: Any) -> ProbeResult:
    with FakeServer(server) as fake:
        return probe(target(fake.port, ca_file, **options), credential=credential)


def test_login_over_starttls(good_tls: ssl.SSLContext, ca_file: str) -> None:
    server = exchange(good_tls)
    result = run(server, ca_file)
    assert (result.ok, result.cause, result.phase, result.auth_mode) == (True, "ok", "auth", "basic")
    assert result.reply is not None and (result.reply.code, result.reply.enhanced_status) == (235, "2.7.0")
    assert result.tls_version in ("TLSv1.2", "TLSv1.3") and result.tls_cipher
    assert result.cert_days_left == 29 and result.cert_not_after is not None
    assert result.mechanisms == ("LOGIN", "XOAUTH2")
    assert list(result.timings_ms) == [
        "credential",
        "connect",
        "greeting",
        "ehlo",
        "starttls",
        "tls_handshake",
        "ehlo_tls",
        "auth",
        "quit",
    ]
    assert set(result.timings_ms) <= set(PHASES)
    assert server.stats.verbs() == ["EHLO", "STARTTLS", "EHLO", "AUTH", "QUIT"]
    sent = [line for direction, line in result.transcript if direction == "C"]
    assert sent == [
        "EHLO probe.test",
        "STARTTLS",
        "EHLO probe.test",
        "AUTH LOGIN",
        "<redacted>",
        "<redacted>",
        "QUIT",
    ]
    assert ("S", "334 VXNlcm5hbWU6") in result.transcript
    assert not result.submitted and result.notes == ()


def test_host_name_resolution_and_certificate_name(good_tls: ssl.SSLContext, ca_file: str) -> None:
    result = run(exchange(good_tls), ca_file, host="localhost", server_hostname=None)
    assert result.ok, result.message


def test_plain_when_offered(good_tls: ssl.SSLContext, ca_file: str) -> None:
    server = exchange(good_tls, mechanisms="PLAIN LOGIN XOAUTH2")
    result = run(server, ca_file, auth="plain")
    assert result.ok and result.auth == "plain" and result.auth_mode == "basic"
    assert ("C", "AUTH PLAIN <redacted>") in result.transcript


def test_plain_not_offered_by_exchange(good_tls: ssl.SSLContext, ca_file: str) -> None:
    server = exchange(good_tls)
    result = run(server, ca_file, auth="plain")
    assert (result.ok, result.cause, result.phase) == (False, "mechanism_not_offered", "auth")
    assert "offers AUTH LOGIN XOAUTH2, not PLAIN" in result.message
    assert result.reply is None
    assert server.stats.verbs()[-1] == "QUIT"


@pytest.mark.parametrize("credential", [TOKEN, lambda: TOKEN], ids=["token", "supplier"])
def test_xoauth2(good_tls: ssl.SSLContext, ca_file: str, credential: Any) -> None:
    server = exchange(good_tls)
    result = run(server, ca_file, credential, auth="xoauth2")
    assert (result.ok, result.auth_mode) == (True, "oauth")
    assert ("C", "AUTH XOAUTH2 <redacted>") in result.transcript
    assert server.stats.most[USER] == 1


def test_xoauth2_rejected_token_reads_the_error_challenge(good_tls: ssl.SSLContext, ca_file: str) -> None:
    result = run(exchange(good_tls), ca_file, "not-the-token", auth="xoauth2")
    assert (result.ok, result.cause, result.phase) == (False, "auth_failed", "auth")
    assert result.reply is not None and result.reply.enhanced_status == "5.7.3"
    assert result.transcript[-4:-2] == (("C", ""), ("S", result.reply.raw))
    assert any('"status":"401"' in note for note in result.notes)


def test_wrong_password(good_tls: ssl.SSLContext, ca_file: str) -> None:
    result = run(exchange(good_tls), ca_file, "wrong")
    assert (result.cause, result.phase) == ("bad_credentials", "auth")


def test_smtp_auth_disabled_for_the_mailbox(good_tls: ssl.SSLContext, ca_file: str) -> None:
    result = run(exchange(good_tls, auth_reply=AUTH_DISABLED_MAILBOX), ca_file)
    assert (result.ok, result.cause, result.phase) == (False, "smtp_auth_disabled_mailbox", "auth")
    assert result.reply is not None
    assert (result.reply.code, result.reply.enhanced_status) == (535, "5.7.139")
    assert result.reply.text.endswith("Visit https://aka.ms/smtp_auth_disabled for more information.")
    assert result.reply.raw == AUTH_DISABLED_MAILBOX


def test_test_message_submitted(good_tls: ssl.SSLContext, ca_file: str) -> None:
    server = exchange(good_tls)
    result = run(server, ca_file, submit_to="alerts@contoso.com")
    assert (result.ok, result.submitted, result.phase) == (True, True, "data")
    assert result.reply is not None and result.reply.code == 250
    assert "MAIL FROM:<printer@contoso.com>" in server.stats.commands
    assert "RCPT TO:<alerts@contoso.com>" in server.stats.commands
    [message] = server.stats.messages
    for header in (
        "Subject: smtp-auth-bot probe",
        "From: printer@contoso.com",
        "To: alerts@contoso.com",
        "Message-ID: <",
        "Date: ",
    ):
        assert header in message


def test_send_as_denied_at_mail_from(good_tls: ssl.SSLContext, ca_file: str) -> None:
    denied = "550 5.7.60 SMTP; Client does not have permissions to send as this sender"
    result = run(exchange(good_tls, mail_reply=denied), ca_file, submit_to="alerts@contoso.com")
    assert (result.ok, result.cause, result.phase, result.submitted) == (
        False,
        "send_as_denied",
        "mail_from",
        False,
    )


def test_send_as_denied_after_data(good_tls: ssl.SSLContext, ca_file: str) -> None:
    denied = (
        "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to "
        "process message due to a permanent exception with message Cannot submit message"
    )
    result = run(exchange(good_tls, data_reply=denied), ca_file, submit_to="alerts@contoso.com")
    assert (result.cause, result.phase) == ("send_as_denied", "data")


def test_unknown_submission_reply_falls_back_to_submission_rejected(
    good_tls: ssl.SSLContext, ca_file: str
) -> None:
    result = run(
        exchange(good_tls, rcpt_reply="550 5.1.10 RESOLVER.ADR.RecipientNotFound"),
        ca_file,
        submit_to="nobody@contoso.com",
    )
    assert (result.cause, result.phase) == ("submission_rejected", "rcpt_to")


def test_mail_without_auth_is_not_authenticated(good_tls: ssl.SSLContext, ca_file: str) -> None:
    result = run(exchange(good_tls), ca_file, None, auth="none")
    assert (result.ok, result.cause, result.phase, result.auth_mode) == (
        False,
        "not_authenticated",
        "mail_from",
        None,
    )
    assert "credential" not in result.timings_ms and "auth" not in result.timings_ms


def test_implicit_tls_against_a_tls_server(good_tls: ssl.SSLContext, ca_file: str) -> None:
    with FakeServer(exchange(good_tls, implicit=True), implicit_tls=good_tls) as fake:
        result = probe(target(fake.port, ca_file, tls="implicit"), credential=PASSWORD)
    assert result.ok, result.message
    assert list(result.timings_ms)[1:4] == ["connect", "tls_handshake", "greeting"]
    assert any("Exchange Online" in note for note in result.notes)


def test_no_tls_when_asked(good_tls: ssl.SSLContext, ca_file: str) -> None:
    result = run(exchange(good_tls, auth_before_tls=True), ca_file, tls="none")
    assert result.ok and result.tls_version is None and "starttls" not in result.timings_ms
    assert any("unencrypted" in note for note in result.notes)


def test_started_at_and_days_left_follow_the_clock(good_tls: ssl.SSLContext, ca_file: str) -> None:
    with FakeServer(exchange(good_tls)) as fake:
        now = FakeClock().now()
        result = probe(target(fake.port, ca_file), credential=PASSWORD, clock=FakeClock(now))
    assert result.started_at == now and result.duration_ms == 0
    assert result.cert_not_after is not None
    assert result.cert_days_left == (result.cert_not_after - now).days


def test_to_dict_is_json(good_tls: ssl.SSLContext, ca_file: str) -> None:
    data = json.loads(json.dumps(run(exchange(good_tls), ca_file).to_dict()))
    assert data["ok"] is True and data["reply"]["code"] == 235 and data["transcript"][0][0] in ("*", "S")
    assert data["started_at"].endswith("+00:00") and isinstance(data["cert_days_left"], int)


def test_target_from_config(tmp_path: Any) -> None:
    config = tmp_path / "app.yaml"
    config.write_text(
        "probes:\n  timeout_seconds: 7\n  targets:\n"
        "    - {name: printer, mailbox: printer@contoso.com, password: '${PW}'}\n"
        "    - {name: app, mailbox: app@contoso.com, auth: xoauth2, port: 465, submit_to: a@contoso.com}\n"
    )
    probes = load_config(config, env={"PW": "x"}).probes
    printer, app = (ProbeTarget.from_config(t, probes) for t in probes.targets)
    assert (printer.host, printer.port, printer.tls, printer.timeout, printer.name) == (
        "smtp.office365.com",
        587,
        "starttls",
        7.0,
        "printer",
    )
    assert (app.port, app.tls, app.auth, app.submit_to) == (465, "implicit", "xoauth2", "a@contoso.com")


def test_target_rejects_unknown_modes() -> None:
    with pytest.raises(ValueError, match="auth must be one of"):
        ProbeTarget(host="h", mailbox=USER, auth="cram-md5")
    with pytest.raises(ValueError, match="tls must be one of"):
        ProbeTarget(host="h", mailbox=USER, tls="ssl")
