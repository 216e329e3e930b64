"""`probe_main`: exit codes 0/1/2, the JSON keys, a password read only from a named environment variable."""

from __future__ import annotations

import argparse
import io
import json
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from smtp_fakes import AUTH_DISABLED_MAILBOX, ExchangeLike, FakeServer, closed_port

from bot.errors import AuthenticationFailed
from bot.probe import add_probe_arguments, probe_main

USER = "printer@contoso.com"
PASSWORD = "Pr1nter-Secret!"
TOKEN = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJzbXRwIn0.c2ln"
ENV = {"SMTP_PASSWORD": PASSWORD, "SMTP_TOKEN": TOKEN, "EMPTY": ""}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot probe")
    add_probe_arguments(parser)
    return parser.parse_args(argv)


def run(argv: list[str], env: dict[str, str] = ENV, **kwargs: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = probe_main(parse(argv), env, out, **kwargs)
    return code, out.getvalue()


@pytest.fixture
def server(good_tls: ssl.SSLContext) -> Callable[..., FakeServer]:
    def make(**options: Any) -> FakeServer:
        return FakeServer(
            ExchangeLike(tls=good_tls, passwords={USER: PASSWORD}, tokens={USER: TOKEN}, **options)
        )

    return make


def args(port: int, ca_file: str, *extra: str) -> list[str]:
    return [
        "--host",
        "localhost",
        "--port",
        str(port),
        "--user",
        USER,
        "--ca-file",
        ca_file,
        "--timeout",
        "2",
        *extra,
    ]


def test_success_as_json(server: Callable[..., FakeServer], ca_file: str) -> None:
    with server() as fake:
        code, out = run(args(fake.port, ca_file, "--password-env", "SMTP_PASSWORD", "--json"))
    assert code == 0
    data = json.loads(out)
    for key in ("ok", "cause", "reply", "phase", "timings_ms", "tls_version", "cert_days_left", "auth_mode"):
        assert key in data
    assert (data["ok"], data["cause"], data["auth_mode"], data["reply"]["code"]) == (True, "ok", "basic", 235)
    assert PASSWORD not in out


def test_success_as_text(server: Callable[..., FakeServer], ca_file: str) -> None:
    with server() as fake:
        code, out = run(args(fake.port, ca_file, "--password-env", "SMTP_PASSWORD"))
    assert code == 0
    assert out.startswith("OK: printer@contoso.com at localhost:")
    assert "AUTH LOGIN succeeded" in out and "days left" in out and "Timings (ms): credential" in out
    assert PASSWORD not in out


def test_failure_explains_the_reply(server: Callable[..., FakeServer], ca_file: str) -> None:
    with server(auth_reply=AUTH_DISABLED_MAILBOX) as fake:
        code, out = run(args(fake.port, ca_file, "--password-env", "SMTP_PASSWORD"))
    assert code == 1
    assert "FAILED: printer@contoso.com at localhost:" in out and "in auth: smtp_auth_disabled_mailbox" in out
    assert "Reply: 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled" in out
    assert "[smtp_auth_disabled_mailbox]" in out and "Set-CASMailbox" in out
    assert PASSWORD not in out


def test_xoauth2_with_a_token_from_the_environment(server: Callable[..., FakeServer], ca_file: str) -> None:
    with server() as fake:
        code, out = run(args(fake.port, ca_file, "--auth", "xoauth2", "--token-env", "SMTP_TOKEN", "--json"))
    assert code == 0 and json.loads(out)["auth_mode"] == "oauth" and TOKEN not in out


def test_xoauth2_with_the_configured_app(server: Callable[..., FakeServer], ca_file: str) -> None:
    with server() as fake:
        code, out = run(args(fake.port, ca_file, "--auth", "xoauth2", "--json"), token_supplier=lambda: TOKEN)
    assert code == 0 and TOKEN not in out


def test_xoauth2_token_failure_is_a_probe_failure(ca_file: str) -> None:
    def no_token() -> str:
        raise AuthenticationFailed("AADSTS700016: Application not found in the directory.")

    code, out = run(args(1, ca_file, "--auth", "xoauth2"), token_supplier=no_token)
    assert code == 1 and "credential_unavailable" in out and "AADSTS700016" in out


def test_implicit_tls_against_exchange_online() -> None:
    code, out = run(
        [
            "--host",
            "smtp.office365.com",
            "--user",
            USER,
            "--password-env",
            "SMTP_PASSWORD",
            "--implicit-tls",
            "--json",
        ]
    )
    data = json.loads(out)
    assert code == 1 and (data["port"], data["cause"], data["phase"]) == (
        465,
        "implicit_tls_unsupported",
        "connect",
    )


def test_implicit_tls_explanation_from_the_catalogue() -> None:
    code, out = run(
        ["--host", "smtp.office365.com", "--user", USER, "--password-env", "SMTP_PASSWORD", "--implicit-tls"]
    )
    assert code == 1 and "[implicit_tls_unsupported]" in out and "Use port 587 with STARTTLS" in out


def test_client_side_failure_names_the_cause(ca_file: str) -> None:
    code, out = run(args(closed_port(), ca_file, "--password-env", "SMTP_PASSWORD"))
    assert code == 1 and "connection_refused" in out and "Cause: nothing accepts connections" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "--auth login needs --password-env VAR"),
        (["--password-env", "UNSET"], "--password-env UNSET: the environment variable is unset or empty"),
        (["--password-env", "EMPTY"], "--password-env EMPTY: the environment variable is unset or empty"),
        (["--auth", "plain", "--token-env", "SMTP_TOKEN"], "takes a password (--password-env), not a token"),
        (["--auth", "xoauth2"], "no token for xoauth2"),
        (["--auth", "xoauth2", "--password-env", "SMTP_PASSWORD"], "takes a token (--token-env)"),
        (["--auth", "xoauth2", "--token-env", "UNSET"], "--token-env UNSET: the environment variable"),
        (["--auth", "none", "--password-env", "SMTP_PASSWORD"], "--auth none sends no credential"),
        (["--password-env", "SMTP_PASSWORD", "--timeout", "0"], "timeout must be positive"),
    ],
)
def test_usage_errors(ca_file: str, extra: list[str], message: str) -> None:
    code, out = run(args(1, ca_file, *extra))
    assert code == 2 and message in out and PASSWORD not in out


def test_missing_ca_file() -> None:
    code, out = run(args(1, "/nonexistent/ca.pem", "--password-env", "SMTP_PASSWORD"))
    assert code == 2 and "--ca-file /nonexistent/ca.pem: no such file" in out


def test_password_is_never_an_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(["--host", "h", "--user", USER, "--password", PASSWORD])
    assert exc.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
