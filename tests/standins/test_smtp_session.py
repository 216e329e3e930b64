"""SMTP stand-in sessions: greeting, EHLO, STARTTLS, submission, recording, limits and faults."""

from __future__ import annotations

import base64
import logging
import re
import smtplib
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox.launcher import Sandbox
from sandbox.smtp_records import GARBAGE

from .conftest import EXCHANGE, Api
from .test_smtp_auth import OK, SUFFIX, auth, b64, connect

EHLO_LIST = ["SIZE 157286400", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES"]
EHLO_TAIL = ["8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8"]


def raw(sb: Sandbox) -> tuple[socket.socket, socket.SocketIO]:
    sock = socket.create_connection(("127.0.0.1", sb.smtp.port), timeout=5)
    return sock, sock.makefile("rb")


def test_greeting_and_ehlo_before_and_after_starttls(sb: Sandbox) -> None:
    client = smtplib.SMTP("localhost", sb.smtp.port, local_hostname="probe.example", timeout=5)
    code, banner = client.ehlo()
    host = banner.decode().splitlines()[0].split()[0]
    assert re.fullmatch(r"[A-Z0-9]+\.outlook\.office365\.com", host)
    assert banner.decode().splitlines() == [f"{host} Hello [127.0.0.1]", *EHLO_LIST, "STARTTLS", *EHLO_TAIL]
    assert client.docmd("STARTTLS") == (220, b"2.0.0 SMTP server ready")
    client.close()
    sock, reader = raw(sb)
    greeting = reader.readline().decode()
    assert re.fullmatch(
        r"220 [A-Z0-9]+\.outlook\.office365\.com Microsoft ESMTP MAIL Service ready at "
        r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n",
        greeting,
    )
    sock.close()
    client = connect(sb)
    lines = client.ehlo_resp.decode().splitlines()
    assert lines[1:] == [*EHLO_LIST, "AUTH LOGIN XOAUTH2", *EHLO_TAIL]
    assert sb.smtp.sessions[-1].tls_version in ("TLSv1.2", "TLSv1.3")
    assert sb.smtp.tls_context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert client.quit() == (221, b"2.0.0 Service closing transmission channel")


def test_auth_and_mail_before_starttls_are_refused(sb: Sandbox) -> None:
    client = connect(sb, tls=False)
    code, text = client.docmd("AUTH", "PLAIN " + b64("\0printer@contoso.com\0Printer-Sandbox-1"))
    assert code == 504 and SUFFIX.sub("", text.decode()) == "5.7.4 Unrecognized authentication type"
    code, text = client.docmd("MAIL", "FROM:<printer@contoso.com>")
    assert code == 530 and SUFFIX.sub("", text.decode()) == "5.7.57 Client not authenticated to send mail"
    assert client.docmd("XYZZY") == (500, b"5.3.3 Unrecognized command 'XYZZY'")
    client.close()
    client = connect(sb)
    code, text = client.docmd("AUTH", "CRAM-MD5")
    assert code == 504 and SUFFIX.search(text.decode())
    client.close()


def test_mail_after_a_failed_auth_carries_the_auth_error(sb: Sandbox) -> None:
    client = connect(sb)
    assert auth(client, "LOGIN", "scanner@contoso.com", "Scanner-Sandbox-1").startswith("535 5.7.139")
    code, text = client.docmd("MAIL", "FROM:<scanner@contoso.com>")
    assert code == 530
    assert text.decode().startswith(
        "5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful, "
        "SmtpClientAuthentication is disabled for the Mailbox."
    )
    client.close()


def test_submission_is_checked_and_recorded(sb: Sandbox) -> None:
    client = connect(sb)
    assert auth(client, "LOGIN", "printer@contoso.com", "Printer-Sandbox-1") == OK
    assert client.docmd("AUTH", "LOGIN")[0] == 503
    code, text = client.docmd("MAIL", "FROM:<ceo@contoso.com>")
    assert code == 550
    assert (
        SUFFIX.sub("", text.decode())
        == "5.7.60 SMTP; Client does not have permissions to send as this sender"
    )
    assert client.docmd("MAIL", "FROM:<Printer@Contoso.com>") == (250, b"2.1.0 Sender OK")
    assert client.docmd("RCPT", "TO:<ops@example.com>") == (250, b"2.1.5 Recipient OK")
    assert client.docmd("RCPT", "TO:<it@example.com>")[0] == 250
    assert client.docmd("DATA") == (354, b"Start mail input; end with <CRLF>.<CRLF>")
    client.send(b"Message-ID: <m1@printer>\r\nSubject: Toner low\r\n\r\nTray 2.\r\n.\r\n")
    code, text = client.getreply()
    assert code == 250
    assert re.fullmatch(
        r"2\.0\.0 OK <m1@printer> \[Hostname=[A-Z0-9]+\.namprd\d\d\.prod\.outlook\.com\]", text.decode()
    )
    client.quit()
    [message] = sb.smtp.messages
    assert (message.mailbox, message.mail_from, message.recipients) == (
        "printer@contoso.com",
        "Printer@Contoso.com",
        ("ops@example.com", "it@example.com"),
    )
    assert (message.subject, message.message_id, message.size) == ("Toner low", "<m1@printer>", 57)
    assert message.session == sb.smtp.sessions[-1].id and sb.smtp.sessions[-1].messages == 1


def test_fourth_concurrent_connection_for_a_mailbox_gets_432(sb: Sandbox) -> None:
    clients = [connect(sb) for _ in range(4)]
    for client in clients[:3]:
        assert auth(client, "LOGIN", "printer@contoso.com", "Printer-Sandbox-1") == OK
    other = connect(sb)  # the limit is per mailbox
    assert auth(other, "LOGIN", "breakglass@contoso.com", "BreakGlass-Sandbox-1") == OK
    other.quit()
    fourth = auth(clients[3], "PLAIN", "printer@contoso.com", "Printer-Sandbox-1")
    assert re.fullmatch(
        r"432 4\.3\.2 STOREDRV\.ClientSubmit; sender thread limit exceeded "
        r"\[Hostname=[A-Z0-9]+\.namprd\d\d\.prod\.outlook\.com\]",
        fourth,
    )
    assert [s.faults for s in sb.smtp.sessions] == [[], [], [], ["limit"], []]
    clients[0].quit()
    deadline = time.monotonic() + 2
    while sb.smtp.authenticated("printer@contoso.com") > 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert auth(clients[3], "PLAIN", "printer@contoso.com", "Printer-Sandbox-1") == OK
    for client in clients[1:]:
        client.quit()


def test_reply_delay(sb: Sandbox) -> None:
    client = connect(sb)
    started = time.monotonic()
    client.noop()
    fast = time.monotonic() - started
    sb.smtp.faults.reply_delay = 0.05
    started = time.monotonic()
    assert client.noop() == (250, b"2.0.0 OK")
    assert time.monotonic() - started >= 0.05 > fast
    client.close()


@pytest.mark.parametrize("drop_after", ["auth", 3])
def test_dropped_connection(sb: Sandbox, drop_after: str | int) -> None:
    sb.smtp.faults.drop_after = drop_after
    client = connect(sb)  # EHLO, STARTTLS, EHLO: three commands
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.login("printer@contoso.com", "Printer-Sandbox-1")
    assert sb.smtp.sessions[-1].faults == ["dropped"]


def test_dropped_before_the_greeting(sb: Sandbox) -> None:
    sb.smtp.faults.drop_after = "greeting"
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtplib.SMTP("localhost", sb.smtp.port, timeout=5)


def test_garbage_line_instead_of_a_reply(sb: Sandbox) -> None:
    sb.smtp.faults.garbage = "greeting"
    sock, reader = raw(sb)
    assert reader.readline() == GARBAGE + b"\r\n"
    sock.sendall(b"EHLO probe.example\r\n")
    assert reader.readline().startswith(b"250-")
    sock.close()
    sb.smtp.faults.garbage = "ehlo"
    client = smtplib.SMTP("localhost", sb.smtp.port, timeout=5)
    assert client.ehlo()[0] == -1  # smtplib's code for a reply line it cannot parse
    client.close()
    assert sb.smtp.sessions[-1].faults == ["garbage"]


def test_refused_connections_get_421(sb: Sandbox) -> None:
    sb.smtp.faults.refuse_connect = 1
    sock, reader = raw(sb)
    line = reader.readline().decode()
    assert SUFFIX.sub("", line.rstrip()) == "421 4.3.2 Service not available, closing transmission channel"
    assert reader.readline() == b""  # closed
    sock.close()
    assert connect(sb).quit()[0] == 221
    sb.smtp.faults.refuse_connect = -1
    for _ in range(2):
        with pytest.raises(smtplib.SMTPConnectError):
            smtplib.SMTP("localhost", sb.smtp.port, timeout=5)
    assert [s.faults for s in sb.smtp.sessions] == [["refused"], [], ["refused"], ["refused"]]


def test_reset_restores_knobs_and_clears_records(sb: Sandbox) -> None:
    faults = sb.smtp.faults
    faults.refuse_connect = -1
    with pytest.raises(smtplib.SMTPConnectError):
        smtplib.SMTP("localhost", sb.smtp.port, timeout=5)
    faults.reply_delay, faults.garbage, faults.mailbox_limit = 1.0, "auth", 1
    sb.reset()
    assert (faults.reply_delay, faults.garbage, faults.mailbox_limit, faults.refuse_connect) == (
        0.0,
        None,
        3,
        0,
    )
    assert sb.smtp.sessions == [] and sb.smtp.messages == []


def test_no_password_or_token_is_recorded_or_logged(
    api: Api, sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sb.state.grant(sb.creds()[1], "SMTP.SendAsApp")
    sb.state.grant_mailbox(sb.creds()[1], "printer@contoso.com")
    token = api.token(EXCHANGE)
    password = "Printer-Sandbox-1"
    for mechanism, secret in (
        ("LOGIN", password),
        ("PLAIN", password),
        ("XOAUTH2", token),
        ("LOGIN", "Wr0ng!"),
    ):
        client = connect(sb)
        if auth(client, mechanism, "printer@contoso.com", secret) == OK:
            client.sendmail("printer@contoso.com", ["ops@example.com"], "Subject: hi\r\n\r\nbody\r\n")
        client.quit()
    recorded = repr(sb.smtp.sessions) + repr(sb.smtp.messages) + caplog.text
    for secret in (
        password,
        "Wr0ng!",
        token,
        token[:40],
        b64(password),
        b64(f"\0printer@contoso.com\0{password}"),
    ):
        assert secret not in recorded
    assert base64.b64encode(token.encode()).decode()[:40] not in recorded
    assert len(sb.smtp.messages) == 3 and [s.result for s in sb.smtp.sessions][-1] == "535 5.7.139"


def test_sixty_concurrent_connections(sb: Sandbox) -> None:
    sb.smtp.faults.reply_delay = 0.01
    sb.smtp.faults.mailbox_limit = 100

    def session(_: int) -> str:
        client = connect(sb)
        reply = auth(client, "LOGIN", "printer@contoso.com", "Printer-Sandbox-1")
        client.quit()
        return reply

    started = time.monotonic()
    with ThreadPoolExecutor(60) as pool:
        replies = list(pool.map(session, range(60)))
    assert replies == [OK] * 60
    assert time.monotonic() - started < 5
