"""Misbehaving servers: every failure comes back as a classified result, none as an exception."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from smtp_fakes import ExchangeLike, FakeServer, Peer, closed_port, scripted, server_context

from bot.errors import AuthenticationFailed
from bot.probe import ProbeResult, ProbeTarget, probe
from sandbox.ca import SandboxCA

USER = "printer@contoso.com"
PASSWORD = "Pr1nter-Secret!"
GREETING = "220 mx.example.net ESMTP ready"
EHLO = "250-mx.example.net Hello\n250-STARTTLS\n250 AUTH LOGIN"


def target(port: int, ca_file: str | Path | None = None, **options: Any) -> ProbeTarget:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "mailbox": USER,
        "ca_file": str(ca_file) if ca_file else None,
        "server_hostname": "localhost",
        "timeout": 2.0,
        "ehlo_name": "probe.test",
    }
    return ProbeTarget(**{**settings, **options})


def run(
    handler: Any,
    ca_file: str | Path | None = None,
    *,
    implicit_tls: ssl.SSLContext | None = None,
    **options: Any,
) -> ProbeResult:
    with FakeServer(handler, implicit_tls=implicit_tls) as fake:
        return probe(target(fake.port, ca_file, **options), credential=PASSWORD)


def sent(result: ProbeResult) -> list[str]:
    return [line for direction, line in result.transcript if direction == "C"]


# --- connecting -----------------------------------------------------------------------------------------


def test_connection_refused() -> None:
    result = probe(target(closed_port()), credential=PASSWORD)
    assert (result.ok, result.cause, result.phase) == (False, "connection_refused", "connect")
    assert result.reply is None and "connect" in result.timings_ms


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    result = probe(target(587, host="smtp.nowhere.invalid", server_hostname=None), credential=PASSWORD)
    assert (result.cause, result.phase) == ("dns_failure", "connect")
    assert "Name or service not known" in result.message


def test_connected_but_never_greeted() -> None:
    started = time.monotonic()
    result = run(Peer.wait_closed, timeout=0.3)
    assert (result.ok, result.cause, result.phase) == (False, "timeout", "greeting")
    assert "no answer within 0.3 s during greeting" in result.message
    assert 250 <= result.timings_ms["greeting"] < 1000 and "quit" not in result.timings_ms
    assert time.monotonic() - started < 1.5


def test_stalls_after_ehlo(good_tls: ssl.SSLContext) -> None:
    result = run(ExchangeLike(tls=good_tls, stall_on="EHLO"), timeout=0.3)
    assert (result.cause, result.phase) == ("timeout", "ehlo")
    assert sent(result) == ["EHLO probe.test"]


def test_421_greeting() -> None:
    result = run(scripted("421 4.3.2 Service not available"))
    assert (result.ok, result.cause, result.phase) == (False, "greeting_rejected", "greeting")
    assert result.reply is not None
    assert (result.reply.code, result.reply.enhanced_status, result.reply.text) == (
        421,
        "4.3.2",
        "Service not available",
    )
    assert sent(result) == []


def test_server_closes_mid_session() -> None:
    def close_after_ehlo(peer: Peer) -> None:
        peer.send(GREETING)
        peer.line()

    result = run(close_after_ehlo)
    assert (result.cause, result.phase) == ("server_closed", "ehlo")


# --- reply parsing --------------------------------------------------------------------------------------


def test_multi_line_greeting_and_ehlo(good_tls: ssl.SSLContext, ca_file: str) -> None:
    server = ExchangeLike(
        tls=good_tls,
        passwords={USER: PASSWORD},
        greeting=("220-mx.example.net ESMTP", "220-postscreen says hello", "220 ready"),
        extra_ehlo=("AUTH=LOGIN PLAIN",),
    )
    result = run(server, ca_file)
    assert result.ok, result.message
    assert result.mechanisms == ("LOGIN", "XOAUTH2", "PLAIN")
    assert [line for direction, line in result.transcript if direction == "S"][:3] == list(server.greeting)


def test_starttls_on_the_last_ehlo_line(good_tls: ssl.SSLContext, ca_file: str) -> None:
    def handler(peer: Peer) -> None:
        peer.send(GREETING)
        peer.line()
        peer.send("250-mx.example.net", "250 STARTTLS")
        peer.line()
        peer.send("220 2.0.0 Ready to start TLS")
        peer.starttls(good_tls)
        peer.line()
        peer.send("250-mx.example.net", "250 AUTH PLAIN")
        peer.until_quit()

    result = run(handler, ca_file)
    assert (result.cause, result.phase, result.mechanisms) == ("mechanism_not_offered", "auth", ("PLAIN",))
    assert result.tls_version is not None


@pytest.mark.parametrize(
    ("script", "phase", "message"),
    [
        (("hello, this is not SMTP",), "greeting", "not an SMTP reply line"),
        ((GREETING, None, "250-mx.example.net\n251 mixed codes"), "ehlo", "continues a 250 reply"),
        ((GREETING, None, "250-mx.example.net\nSIZE 1000"), "ehlo", "not an SMTP reply line"),
        ((GREETING, None, "\n".join(["250-x"] * 150)), "ehlo", "longer than 100 lines"),
        (("220 " + "x" * 5000,), "greeting", "longer than 4096 bytes"),
    ],
    ids=["garbage-greeting", "mixed-codes", "bare-continuation", "too-many-lines", "too-long"],
)
def test_garbage_is_a_protocol_error(script: tuple[str | None, ...], phase: str, message: str) -> None:
    result = run(scripted(*script))
    assert (result.ok, result.cause, result.phase) == (False, "protocol_error", phase)
    assert message in result.message


def test_bare_code_and_lf_only_lines_are_accepted() -> None:
    def handler(peer: Peer) -> None:
        peer.sock.sendall(b"220\n")
        peer.line()
        peer.sock.sendall(b"250-mx.example.net\n250 8BITMIME\n")
        peer.until_quit()

    result = run(handler)
    assert (result.cause, result.phase) == ("no_starttls", "starttls")


# --- STARTTLS and TLS -----------------------------------------------------------------------------------


def test_no_starttls_offered() -> None:
    server = ExchangeLike(tls=None, passwords={USER: PASSWORD})
    result = run(server)
    assert (result.ok, result.cause, result.phase) == (False, "no_starttls", "starttls")
    assert server.stats.verbs() == ["EHLO", "QUIT"]


def test_without_tls_exchange_offers_no_auth(good_tls: ssl.SSLContext) -> None:
    result = run(ExchangeLike(tls=good_tls), tls="none")
    assert (result.cause, result.phase) == ("mechanism_not_offered", "auth")
    assert "offers no AUTH" in result.message and "only after STARTTLS" in result.message


def test_starttls_refused() -> None:
    result = run(scripted(GREETING, None, EHLO, None, "454 4.7.0 TLS not available due to temporary reason"))
    assert (result.cause, result.phase) == ("starttls_rejected", "starttls")
    assert result.reply is not None and result.reply.code == 454


@pytest.mark.parametrize(
    ("context", "detail", "words"),
    [
        ("expired_tls", "expired", "certificate has expired"),
        ("wrong_host_tls", "hostname_mismatch", "Hostname mismatch"),
        ("good_tls", "untrusted", "self-signed certificate in certificate chain"),
    ],
)
def test_certificate_rejected(
    request: pytest.FixtureRequest, other_ca_file: Path, ca_file: str, context: str, detail: str, words: str
) -> None:
    tls = request.getfixturevalue(context)
    trusted = other_ca_file if detail == "untrusted" else ca_file
    result = run(ExchangeLike(tls=tls, passwords={USER: PASSWORD}), trusted)
    assert (result.ok, result.cause, result.detail, result.phase) == (
        False,
        "tls_failure",
        detail,
        "tls_handshake",
    )
    assert words in result.message
    assert result.tls_version is None and result.cert_days_left is None
    assert sent(result)[-1] == "STARTTLS"


def test_system_store_does_not_trust_the_sandbox_ca(good_tls: ssl.SSLContext) -> None:
    result = run(ExchangeLike(tls=good_tls), None)
    assert (result.cause, result.detail) == ("tls_failure", "untrusted")


def test_tls_older_than_1_2_is_refused(ca: SandboxCA, ca_file: str) -> None:
    old = server_context(ca.server_cert_path, ca.server_key_path, legacy_only=True)
    result = run(ExchangeLike(tls=old), ca_file)
    assert (result.cause, result.detail, result.phase) == ("tls_failure", "protocol", "tls_handshake")
    assert "PROTOCOL_VERSION" in result.message


def test_data_injected_before_the_handshake(ca_file: str) -> None:
    result = run(scripted(GREETING, None, EHLO, None, "220 2.0.0 Ready\n250 injected"), ca_file)
    assert (result.cause, result.phase) == ("protocol_error", "tls_handshake")


def test_starttls_client_against_an_implicit_tls_port(good_tls: ssl.SSLContext, ca_file: str) -> None:
    with FakeServer(ExchangeLike(implicit=True), implicit_tls=good_tls) as fake:
        result = probe(target(fake.port, ca_file, timeout=0.3), credential=PASSWORD)
    assert (result.cause, result.phase) == ("timeout", "greeting")


def test_implicit_tls_against_a_plain_text_port(ca_file: str) -> None:
    result = run(scripted(GREETING), ca_file, tls="implicit")
    assert (result.ok, result.cause, result.phase) == (False, "implicit_tls_unsupported", "tls_handshake")


def test_implicit_tls_against_exchange_online_does_not_connect() -> None:
    result = probe(
        ProbeTarget(host="smtp.office365.com", port=465, mailbox=USER, tls="implicit"), credential=PASSWORD
    )
    assert (result.cause, result.phase, result.transcript) == ("implicit_tls_unsupported", "connect", ())
    assert "connect" not in result.timings_ms


# --- EHLO and credentials -------------------------------------------------------------------------------


def test_helo_when_ehlo_is_refused() -> None:
    result = run(
        scripted(
            GREETING,
            None,
            "502 5.5.1 Command not implemented",
            None,
            "250 mx.example.net",
            None,
            "250 2.1.0 Sender OK",
        ),
        tls="none",
        auth="none",
    )
    assert result.ok and result.phase == "mail_from"
    assert sent(result)[:3] == ["EHLO probe.test", "HELO probe.test", "MAIL FROM:<printer@contoso.com>"]
    assert any("HELO" in note for note in result.notes)


def test_ehlo_and_helo_refused() -> None:
    result = run(scripted(GREETING, None, "502 5.5.1 no", None, "502 5.5.1 no either"))
    assert (result.cause, result.phase) == ("ehlo_rejected", "ehlo")


def test_missing_password_never_connects() -> None:
    for credential in (None, ""):
        result = probe(target(closed_port()), credential=credential)
        assert (result.cause, result.phase, result.transcript) == ("credential_unavailable", "credential", ())


def test_token_supplier_failure() -> None:
    def broken() -> str:
        raise AuthenticationFailed("AADSTS7000215: Invalid client secret provided.")

    result = probe(target(closed_port(), auth="xoauth2"), credential=broken)
    assert (result.cause, result.phase) == ("credential_unavailable", "credential")
    assert "Invalid client secret" in result.message
