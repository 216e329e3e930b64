"""parse_reply: codes, statuses, suffixes, continuation lines, wrapped lines and pasted Python exceptions."""

from __future__ import annotations

import pytest

from bot.diagnosis import Reply, parse_reply

SUFFIX = "[BN8PR12CA0032.namprd12.prod.outlook.com 2026-11-28T10:00:00.000Z 08DE1A2B3C4D5E6F]"
TENANT = (
    "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
    "Visit https://aka.ms/smtp_auth_disabled for more information."
)


def test_full_exchange_reply_is_split_into_its_parts() -> None:
    raw = f"535 5.7.139 {TENANT} {SUFFIX}"
    assert parse_reply(raw) == Reply(code=535, enhanced_status="5.7.139", text=TENANT, suffix=SUFFIX, raw=raw)


def test_normalised_drops_suffix_and_keeps_case() -> None:
    reply = parse_reply(f"  535 5.7.139 {TENANT}\n {SUFFIX}  ")
    assert reply.normalised == f"535 5.7.139 {TENANT}"


def test_multi_line_reply_joins_continuations() -> None:
    raw = (
        "535-5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.\r\n"
        f"535 5.7.139 Visit https://aka.ms/smtp_auth_disabled for more information. {SUFFIX}\r\n"
    )
    reply = parse_reply(raw)
    assert (reply.code, reply.enhanced_status, reply.text, reply.suffix) == (535, "5.7.139", TENANT, SUFFIX)


def test_continuation_lines_without_status() -> None:
    reply = parse_reply("535-Authentication unsuccessful,\n535 the user credentials were incorrect.")
    assert (reply.code, reply.enhanced_status) == (535, None)
    assert reply.text == "Authentication unsuccessful, the user credentials were incorrect."


def test_wrapped_line_is_joined_with_a_space() -> None:
    reply = parse_reply("535 5.7.139 Authentication unsuccessful, the user\ncredentials were incorrect.")
    assert reply.text == "Authentication unsuccessful, the user credentials were incorrect."


def test_text_only_reply_has_no_code() -> None:
    reply = parse_reply("Authentication unsuccessful, the user credentials were incorrect.")
    assert (reply.code, reply.enhanced_status, reply.suffix) == (None, None, None)
    assert reply.text == "Authentication unsuccessful, the user credentials were incorrect."


def test_status_without_basic_code_and_smtp_marker() -> None:
    reply = parse_reply("5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM")
    assert (reply.code, reply.enhanced_status) == (None, "5.7.57")
    assert reply.text == "Client was not authenticated to send anonymous mail during MAIL FROM"


def test_basic_code_without_status() -> None:
    reply = parse_reply("535 Authentication unsuccessful")
    assert (reply.code, reply.enhanced_status, reply.text) == (535, None, "Authentication unsuccessful")


def test_client_preamble_is_kept_apart() -> None:
    reply = parse_reply("Error: Invalid login: 535 5.7.3 Authentication unsuccessful")
    assert (reply.code, reply.enhanced_status, reply.text) == (535, "5.7.3", "Authentication unsuccessful")
    assert reply.preamble == "Error: Invalid login:"


def test_nested_reply_keeps_the_outer_status() -> None:
    reply = parse_reply(
        "5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful, "
        "basic authentication is disabled."
    )
    assert (reply.code, reply.enhanced_status) == (None, "5.7.57")
    assert reply.text.startswith("Client not authenticated to send mail. Error: 535 5.7.139")


def test_python_exception_repr() -> None:
    raw = f"smtplib.SMTPAuthenticationError: (535, b'5.7.139 {TENANT} {SUFFIX}')"
    reply = parse_reply(raw)
    assert (reply.code, reply.enhanced_status, reply.text, reply.suffix) == (535, "5.7.139", TENANT, SUFFIX)
    assert reply.preamble == "smtplib.SMTPAuthenticationError:"
    assert reply.raw == raw


def test_python_repr_multi_line_and_concatenated_literals() -> None:
    reply = parse_reply(
        "SMTPSenderRefused(530, b'5.7.57 Client not authenticated to send mail.\\n5.7.57 Error: 535 5.7.139 '\n"
        "    b\"Authentication unsuccessful, the user credentials were incorrect.\", 'printer@contoso.com')"
    )
    assert (reply.code, reply.enhanced_status) == (530, "5.7.57")
    assert reply.text == (
        "Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful, "
        "the user credentials were incorrect."
    )


def test_python_repr_with_escaped_non_ascii() -> None:
    reply = parse_reply(
        "(535, b'5.7.139 user is locked by your organization\\xe2\\x80\\x99s security defaults')"
    )
    assert reply.text == "user is locked by your organization\u2019s security defaults"


def test_hostname_suffix_form() -> None:
    reply = parse_reply(
        "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=BY5PR04MB1.x.com]"
    )
    assert reply.suffix == "[Hostname=BY5PR04MB1.x.com]"
    assert reply.text == "STOREDRV.ClientSubmit; sender thread limit exceeded"


def test_bracketed_ip_is_not_a_suffix() -> None:
    reply = parse_reply("451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (AS770)")
    assert reply.suffix is None
    assert "[192.0.2.1]" in reply.text


def test_dotted_numbers_that_are_not_statuses() -> None:
    reply = parse_reply("421 4.7.66 TLS 1.0 and 1.1 are not supported. Connect from 4.2.2.2 rejected")
    assert (reply.code, reply.enhanced_status) == (421, "4.7.66")
    assert parse_reply("client at 4.2.2.2 failed").enhanced_status is None


@pytest.mark.parametrize("raw", ["", "   \r\n  "])
def test_empty_input(raw: str) -> None:
    assert parse_reply(raw) == Reply(code=None, enhanced_status=None, text="", suffix=None, raw=raw)
