"""Shared names and sandbox look-ups for the workflow tests."""

from __future__ import annotations

from typing import Any

REQUESTER, APPROVER, OTHER, GROUP_MEMBER = "U0REQUEST", "U0APPROVE", "U0RANDOM", "U0INGROUP"


def mailbox_value(sandbox: Any, upn: str) -> bool | None:
    return sandbox.state.tenant("contoso").user(upn).mailbox.smtp_client_authentication_disabled


def set_casmailbox_calls(sandbox: Any) -> list[Any]:
    return [r for r in sandbox.state.requests.for_service("exchange") if r.cmdlet == "Set-CASMailbox"]
