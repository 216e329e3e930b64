"""Credentials never leave the probe: not in the result, its transcript, its JSON, its repr or the logs."""

from __future__ import annotations

import base64
import json
import logging
import ssl
from typing import Any

import pytest
from smtp_fakes import ExchangeLike, FakeServer, Peer, scripted

from bot.probe import ProbeResult, ProbeTarget, probe

USER = "printer@contoso.com"
PASSWORD = "Pr1nter-Secret!"
TOKEN = "eyJ0eXAiOiJKV1QifQ.eyJyb2xlcyI6WyJTTVRQLlNlbmRBc0FwcCJdfQ.c2lnbmF0dXJlLXRva2Vu"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


FORBIDDEN = [
    PASSWORD,
    TOKEN,
    b64(PASSWORD),
    b64(TOKEN),
    b64(f"\0{USER}\0{PASSWORD}"),
    b64(f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01"),
]


def everything(result: ProbeResult, caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join([repr(result), str(result), json.dumps(result.to_dict()), caplog.text])


def assert_clean(text: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text


def target(port: int, ca_file: str | None, **options: Any) -> ProbeTarget:
    return ProbeTarget(
        host="127.0.0.1",
        port=port,
        mailbox=USER,
        ca_file=ca_file,
        server_hostname="localhost",
        timeout=2.0,
        **options,
    )


@pytest.mark.parametrize(
    ("auth", "credential", "good"),
    [
        ("login", PASSWORD, True),
        ("plain", PASSWORD, True),
        ("xoauth2", TOKEN, True),
        ("xoauth2", lambda: TOKEN, True),
        ("login", PASSWORD, False),
        ("plain", PASSWORD, False),
        ("xoauth2", TOKEN, False),
    ],
    ids=[
        "login",
        "plain",
        "xoauth2",
        "xoauth2-supplier",
        "login-refused",
        "plain-refused",
        "xoauth2-refused",
    ],
)
def test_secrets_appear_nowhere(
    good_tls: ssl.SSLContext,
    ca_file: str,
    caplog: pytest.LogCaptureFixture,
    auth: str,
    credential: Any,
    good: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    known = {USER: PASSWORD if good else "something else"}
    server = ExchangeLike(
        tls=good_tls,
        mechanisms="PLAIN LOGIN XOAUTH2",
        passwords=known,
        tokens={USER: TOKEN if good else "another token"},
    )
    with FakeServer(server) as fake:
        result = probe(
            target(fake.port, ca_file, auth=auth, submit_to="alerts@contoso.com"), credential=credential
        )
    assert result.ok is good
    assert any(line == "<redacted>" or line.endswith(" <redacted>") for _, line in result.transcript)
    assert "<redacted>" in caplog.text and "AUTH" in caplog.text
    assert_clean(everything(result, caplog))


def test_a_server_echoing_the_credential_is_redacted_too(
    good_tls: ssl.SSLContext, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def echo(peer: Peer) -> None:
        peer.send("220 mx.example.net ESMTP")
        peer.line()
        peer.send("250-mx.example.net", "250-AUTH PLAIN LOGIN", "250 STARTTLS")
        peer.line()
        peer.send("220 go ahead")
        peer.starttls(good_tls)
        peer.line()
        peer.send("250-mx.example.net", "250 AUTH PLAIN LOGIN")
        blob = (peer.line() or "").split(" ")[-1]
        password = base64.b64decode(blob).decode().split("\0")[-1]
        peer.send(f"535-5.7.8 bad credentials {blob}", f"535 5.7.8 you sent {password} ({b64(password)})")
        peer.until_quit()

    with FakeServer(echo) as fake:
        result = probe(target(fake.port, ca_file, auth="plain"), credential=PASSWORD)
    assert (result.cause, result.phase) == ("auth_failed", "auth")
    assert result.reply is not None and "you sent <redacted> (<redacted>)" in result.reply.text
    assert_clean(everything(result, caplog))


def test_password_in_a_garbage_line_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeServer(scripted(f"oops {PASSWORD}")) as fake:
        result = probe(target(fake.port, None, tls="none"), credential=PASSWORD)
    assert result.cause == "protocol_error"
    assert_clean(everything(result, caplog))
