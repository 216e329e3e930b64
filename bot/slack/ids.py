"""Command, action and block ids shared by the Block Kit builders and the Bolt listener registrations."""

from __future__ import annotations

import json

COMMAND_ENABLE = "/smtp-enable"
COMMAND_STATUS = "/smtp-status"
COMMAND_EXPLAIN = "/smtp-explain"
COMMAND_PROBE = "/smtp-probe"
COMMAND_READINESS = "/smtp-readiness"
COMMAND_OAUTH = "/smtp-oauth"

ACTION_APPROVE = "step_approve"
ACTION_DENY = "step_deny"
ACTION_APPROVE_ALL = "request_approve_all"
ACTION_APPLY_ANYWAY = "request_apply_anyway"
ACTION_UNDO = "step_undo"
ACTION_UNDO_APPROVE = "undo_approve"
ACTION_UNDO_DENY = "undo_deny"
ACTION_RETRY = "step_retry"
ACTION_RETRY_FAILED = "step_retry_failed"
ACTION_DIAGNOSE_AGAIN = "request_diagnose_again"
ACTION_ALERT_FIX = "alert_fix"
ACTION_CLOSE_UNUSED = "readiness_close_unused"
ACTION_ALERT_PROBE = "alert_probe"
ACTION_ALERT_SNOOZE = "alert_snooze"
ACTION_ALERT_UNSNOOZE = "alert_unsnooze"
SNOOZE_CHOICES = (1, 4, 24)
"""The Snooze buttons' durations in hours (those up to `alerts.snooze_hours` are shown)."""
ACTION_ALERT_SNOOZE_FOR = {1: "alert_snooze_1h", 4: "alert_snooze_4h", 24: ACTION_ALERT_SNOOZE}
"""The action id of each Snooze button; 24 h keeps the id of the former single button, so old cards work."""

#: Every action id a plan card, status message, App Home, alert or readiness card can carry. A button's `value` is
#: the step id (as a string), except Approve all, Apply anyway and Diagnose again (the change request id), alert Fix
#: (the mailbox), alert Probe now (the probe target's name), alert Snooze and Unsnooze (`alert_value`: the target
#: with the incident and cause the card showed) and Close unused (`readiness_value`).
ACTIONS = (
    ACTION_APPROVE,
    ACTION_DENY,
    ACTION_APPROVE_ALL,
    ACTION_APPLY_ANYWAY,
    ACTION_UNDO,
    ACTION_UNDO_APPROVE,
    ACTION_UNDO_DENY,
    ACTION_RETRY,
    ACTION_RETRY_FAILED,
    ACTION_DIAGNOSE_AGAIN,
    ACTION_ALERT_FIX,
    ACTION_ALERT_PROBE,
    *ACTION_ALERT_SNOOZE_FOR.values(),
    ACTION_ALERT_UNSNOOZE,
    ACTION_CLOSE_UNUSED,
)


def readiness_value(days: int, report_id: str) -> str:
    """The Close unused button's value: the report's period and its id (when it ran), nothing else; the click
    runs the report again, so no mailbox list ever travels through Slack."""
    return f"{days}:{report_id}"


def readiness_block_id(report_id: str) -> str:
    """The block holding a readiness card's Close unused button: `readiness:<report id>`."""
    return f"readiness:{report_id}"


def step_block_id(step_id: int) -> str:
    """The block holding one step's buttons: `step:<id>`."""
    return f"step:{step_id}"


def request_block_id(request_id: str) -> str:
    """The block holding a request's Approve all button: `request:<id>`."""
    return f"request:{request_id}"


def anyway_block_id(request_id: str) -> str:
    """The block holding a held request's Apply anyway button: `anyway:<id>`."""
    return f"anyway:{request_id}"


def again_block_id(request_id: str) -> str:
    """The block holding a request's Diagnose again button: `again:<id>`."""
    return f"again:{request_id}"


def alert_value(target: str, incident: str | None, cause: str | None) -> str:
    """An alert Snooze/Unsnooze button's value: the target, and the incident and cause its card showed, so a click
    on a card drawn before the incident changed is refused rather than acting on another incident."""
    return json.dumps({"target": target, "incident": incident, "cause": cause}, separators=(",", ":"))


def parse_alert_value(value: str) -> tuple[str, str | None, str | None] | None:
    """(target, incident, cause) of an `alert_value`; a bare target name (a card drawn before the value carried
    the incident) gives (name, None, None). None when the value is neither."""
    if not value.startswith("{"):
        return value, None, None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    target, incident, cause = data.get("target"), data.get("incident"), data.get("cause")
    if not isinstance(target, str) or not target or not all(v is None or isinstance(v, str) for v in (incident, cause)):
        return None
    return target, incident, cause
