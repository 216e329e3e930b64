"""The probe's optional test message and the AUTH LOGIN challenge text."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid

from bot.probe.wire import SmtpReply

SUBJECT = "smtp-auth-bot probe"

def decode_challenge(reply: SmtpReply) -> str:
    text = reply.texts[0].strip() if reply.texts else ""
    try:
        return base64.b64decode(text, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return text


def test_message(sender: str, recipient: str, now: datetime) -> list[str]:
    """A small RFC 5322 message as dot-stuffed lines."""
    message = EmailMessage()
    message["Date"] = format_datetime(now)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = SUBJECT
    message["Message-ID"] = make_msgid("smtp-auth-bot", domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(
        f"Test message from smtp-auth-bot:\n{sender} can submit mail over SMTP AUTH.\n"
        "It needs no action and can be deleted.\n"
    )
    lines = message.as_bytes(policy=SMTP_POLICY.clone(max_line_length=998)).decode("utf-8").split("\r\n")
    if lines and lines[-1] == "":
        lines.pop()
    return ["." + line if line.startswith(".") else line for line in lines]
