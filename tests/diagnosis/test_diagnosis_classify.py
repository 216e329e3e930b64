"""classify: every sample in every paste shape lands on its cause; rule order; unknown replies."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.diagnosis import CATALOGUE, SAMPLES, Sample, classify, parse_reply

SUFFIX = "[SN4PR0201CA0065.namprd02.prod.outlook.com 2026-11-28T10:00:00.000Z 08DE1A2B3C4D5E6F]"


def _message_end(text: str) -> int:
    """Where the message proper ends: before the suffix, if any."""
    suffix = parse_reply(text).suffix
    return text.index(suffix) if suffix and suffix in text else len(text)


def _break_at_space(text: str, newline: str) -> str:
    """Replace the first space after the middle of the message with a line break."""
    end = _message_end(text)
    at = text.index(" ", max(end // 2, text.find(" ") + 1))
    return text if at >= end else text[:at] + newline + text[at + 1 :]


def _break_mid_word(text: str) -> str:
    """Hard-wrap inside a word, as a fixed-width terminal does."""
    end = _message_end(text)
    for at in range(end * 2 // 3, end - 1):
        if text[at - 1].isalpha() and text[at].isalpha():
            return text[:at] + "\n" + text[at:]
    return text


def _with_suffix(text: str) -> str:
    return text if parse_reply(text).suffix else f"{text} {SUFFIX}"


def _without_suffix(text: str) -> str:
    suffix = parse_reply(text).suffix
    return text.replace(suffix, "") if suffix else text


VARIANTS: dict[str, Callable[[str], str]] = {
    "as_is": lambda t: t,
    "upper": str.upper,
    "lower": str.lower,
    "padded": lambda t: f"\n\t  {t}  \r\n",
    "with_suffix": _with_suffix,
    "without_suffix": _without_suffix,
    "wrapped_lf": lambda t: _break_at_space(t, "\n"),
    "wrapped_crlf": lambda t: _break_at_space(t, "\r\n"),
    "wrapped_mid_word": _break_mid_word,
}


def _sample_id(sample: Sample) -> str:
    return f"{sample.cause}:{sample.reply[:40]}"


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("sample", SAMPLES, ids=_sample_id)
def test_sample_classifies_in_every_shape(sample: Sample, variant: str) -> None:
    diagnosis = classify(VARIANTS[variant](sample.reply))
    assert diagnosis.cause.key == sample.cause, diagnosis.matched_by


@pytest.mark.parametrize("variant", ["as_is", "with_suffix", "without_suffix", "wrapped_lf", "wrapped_crlf"])
@pytest.mark.parametrize("sample", SAMPLES, ids=_sample_id)
def test_shapes_that_keep_the_words_parse_to_the_same_reply(sample: Sample, variant: str) -> None:
    original, changed = parse_reply(sample.reply), parse_reply(VARIANTS[variant](sample.reply))
    assert (changed.code, changed.enhanced_status, changed.text) == (
        original.code,
        original.enhanced_status,
        original.text,
    )


def _coded(sample: Sample) -> bool:
    reply = parse_reply(sample.reply)
    return (
        reply.code is not None
        and reply.enhanced_status is not None
        and sample.reply.startswith(str(reply.code))
    )


CODED = [s for s in SAMPLES if _coded(s)]


@pytest.mark.parametrize("sample", CODED, ids=_sample_id)
def test_multi_line_continuation(sample: Sample) -> None:
    reply = parse_reply(sample.reply)
    words = reply.text.split(" ")
    half = max(1, len(words) // 2)
    multi = (
        f"{reply.code}-{reply.enhanced_status} {' '.join(words[:half])}\r\n"
        f"{reply.code} {reply.enhanced_status} {' '.join(words[half:])} {reply.suffix or ''}\r\n"
    )
    diagnosis = classify(multi)
    assert diagnosis.cause.key == sample.cause
    assert diagnosis.reply.text == reply.text
    assert diagnosis.reply.suffix == reply.suffix


@pytest.mark.parametrize("sample", CODED, ids=_sample_id)
def test_pasted_python_exception(sample: Sample) -> None:
    reply = parse_reply(sample.reply)
    message = f"{reply.enhanced_status} {reply.text} {reply.suffix or ''}".strip().encode()
    pasted = f"smtplib.SMTPAuthenticationError: ({reply.code}, {message!r})"
    diagnosis = classify(pasted)
    assert diagnosis.cause.key == sample.cause
    assert (diagnosis.reply.code, diagnosis.reply.enhanced_status, diagnosis.reply.text) == (
        reply.code,
        reply.enhanced_status,
        reply.text,
    )


def test_every_cause_but_unclassified_has_a_sample() -> None:
    assert {s.cause for s in SAMPLES} == set(CATALOGUE) - {"unclassified"}


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        # 5.2.252 mentions "send as denied" but is throttling.
        ("550 5.2.252 Sender throttled due to continuous send as denied errors.", "sender_throttled"),
        # 554 5.2.252 is one Send As refusal, 550 5.2.252 the throttle; the text decides when it is there.
        ("554 5.2.252 SendAsDenied; a@contoso.com not allowed to send as b@contoso.com", "send_as_denied"),
        ("554 5.2.252 something new", "send_as_denied"),
        ("550 5.2.252 something new", "sender_throttled"),
        ("554 5.2.252 Sender throttled due to continuous send as denied errors.", "sender_throttled"),
        # A bare 5.2.252 names no throttle: the single refusal is the honest reading.
        ("5.2.252", "send_as_denied"),
        ("Error: 5.2.252", "send_as_denied"),
        # The security-defaults reply says "locked" but is not an account lockout.
        (
            "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults "
            "policy.",
            "security_defaults",
        ),
        # A nested inner reason beats the outer 5.7.57.
        (
            "530 5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful, "
            "basic authentication is disabled.",
            "basic_auth_disabled_policy",
        ),
        (
            "5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful, "
            "SmtpClientAuthentication is disabled for the Mailbox.",
            "smtp_auth_disabled_mailbox",
        ),
        # Wording without any code, as printer logs show it.
        ("SmtpClientAuthentication is disabled for the Tenant", "smtp_auth_disabled_tenant"),
        ("Sender throttled due to continuous invalid license errors", "sender_throttled"),
        ("Authentication unsuccessful", "auth_failed"),
        ("SMTP authentication failed", "auth_failed"),
        # Status or code alone, wording unknown.
        ("550 5.7.30 something new", "basic_auth_retired"),
        ("5.7.60 something new", "send_as_denied"),
        ("550 5.2.254 something new", "sender_throttled"),
        ("421 4.7.66 something new", "tls_version_unsupported"),
        ("530 5.7.0 something new", "starttls_required"),
        ("504 5.7.4 something new", "auth_mechanism_unsupported"),
        ("501 5.5.124 something new", "xoauth2_malformed"),
        ("550 5.7.703 something new", "tenant_or_ip_blocked"),
        ("550 5.1.8 something new", "sender_restricted"),
        ("550 5.5.105 something new", "hve_external_recipient"),
        ("550 5.7.68 something new", "direct_send_rejected"),
        ("550 5.7.64 something new", "relay_connector_mismatch"),
        ("550 5.7.54 something new", "relay_denied"),
        ("5.7.1 Unable to relay", "relay_denied"),
        ("451 4.7.612 something new", "server_busy"),
        ("452 4.5.3 something new", "too_many_recipients"),
        ("552 5.3.4 something new", "message_too_large"),
        ("550 5.1.90 something new", "sending_quota_exceeded"),
        # 5.2.254 names too many recipients but is the throttle; 5.2.2 is Exchange's quota only with its words.
        ("550 5.2.254 Sender throttled due to continuous too many recipients errors.", "sender_throttled"),
        ("5.2.2 Submission quota exceeded", "sending_quota_exceeded"),
        ("530 5.7.57 something new", "not_authenticated"),
        ("530 Authentication required", "not_authenticated"),
        ("535 5.7.3 something new", "auth_failed"),
        ("454 something new", "temporary_auth_failure"),
        ("535 something new", "auth_failed"),
        (
            "Error: Invalid login: 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled",
            "smtp_auth_disabled_tenant",
        ),
    ],
)
def test_rule_order_and_fallbacks(text: str, cause: str) -> None:
    assert classify(text).cause.key == cause


def test_unknown_5_7_139_wording_is_a_generic_auth_failure() -> None:
    diagnosis = classify("535 5.7.139 Authentication unsuccessful, some wording Microsoft adds next year.")
    assert diagnosis.cause.key == "auth_failed"
    assert "5.7.139" in diagnosis.matched_by
    assert "not recognised" in diagnosis.matched_by


def test_bare_5_2_252_says_why_it_is_not_the_throttle() -> None:
    diagnosis = classify("554 5.2.252")
    assert diagnosis.cause.key == "send_as_denied"
    assert "550" in diagnosis.matched_by and "throttle" in diagnosis.matched_by


def test_matched_by_names_the_rule() -> None:
    assert classify("550 5.7.30 Basic authentication is not supported for Client Submission.").matched_by == (
        "phrase 'Basic authentication is not supported for Client Submission'"
    )
    assert classify("530 5.7.0 whatever").matched_by == "reply code 530 with enhanced status 5.7.0"
    assert classify("454 whatever").matched_by == "reply code 454"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "250 2.0.0 OK <id@host> [Hostname=BYAPR05MB4453.namprd05.prod.outlook.com]",
        "550 5.4.1 Recipient address rejected: Access denied",
        "the printer says: mail error 0x41",
        "550 5.7.23 The message was rejected because of Sender Policy Framework violation",
        "552 5.2.2 mailbox full",
    ],
)
def test_unknown_replies_are_unclassified_and_keep_the_raw_text(text: str) -> None:
    diagnosis = classify(text)
    assert diagnosis.cause.key == "unclassified"
    assert diagnosis.matched_by == "no rule matched"
    assert diagnosis.reply.raw == text


@pytest.mark.parametrize(
    ("text", "transient"),
    [
        ("432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded", True),
        ("454 4.7.0 Temporary authentication failure", True),
        ("535 5.7.3 Authentication unsuccessful", False),
        ("451 4.7.500 Server busy. Please try again later", True),
        ("450 something unknown", True),
        ("550 5.4.1 Recipient address rejected", False),
        ("gibberish", False),
    ],
)
def test_transient(text: str, transient: bool) -> None:
    assert classify(text).transient is transient
