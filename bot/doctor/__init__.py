"""`python -m bot doctor`: a preflight of credentials, permissions, roles, Slack and SMTP."""

from __future__ import annotations

from bot.doctor.command import Doctor, config_failure, doctor_command, doctor_main, secrets_of
from bot.doctor.needs import declared, graph_alternatives
from bot.doctor.result import Result
from bot.doctor.slack import SLACK_SCOPES
from bot.doctor.smtp import smtp_fix

__all__ = [
    "SLACK_SCOPES",
    "Doctor",
    "Result",
    "config_failure",
    "declared",
    "doctor_command",
    "doctor_main",
    "graph_alternatives",
    "secrets_of",
    "smtp_fix",
]
