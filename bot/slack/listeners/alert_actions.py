"""Alert card buttons: Fix opens the same plan as /smtp-enable, Probe now probes at once, Snooze (1, 4 or 24 h)
and Unsnooze are gated (`alerts.snooze_by`) and audited."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import App

from bot.errors import BotError
from bot.probe.runner import find_target
from bot.slack import ids
from bot.slack.blocks.mrkdwn import esc, local_time
from bot.slack.listeners.common import Ack, Respond, clicked, ephemeral
from bot.slack.listeners.enable import open_request
from bot.slack.listeners.probe import answer_probe
from bot.slack.services import SlackServices
from handlers.facts import normalize_upn

log = logging.getLogger(__name__)
MAX_VALUE = 800  # a mailbox, a target name or `ids.alert_value`; anything longer is not one of our buttons

#: What a click on an alert's button does, on the pool: (services, button value, user, body, respond).
AlertWork = Callable[[SlackServices, str, str, dict[str, Any], Respond], None]


def on_alert(work: AlertWork, services: SlackServices, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
    """Any alert button: ack, check the click carries a value, and hand it to `work` on the pool."""
    ack()
    parsed = clicked(body)
    if parsed is None or not parsed[1] or len(parsed[1]) > MAX_VALUE:
        log.warning("ignoring a malformed click")
        return
    services.submit(work, services, parsed[1], parsed[0], body, respond)


def fix(services: SlackServices, mailbox: str, user: str, body: dict[str, Any], respond: Respond) -> None:
    """The alert's Fix button: the same diagnosis and plan as /smtp-enable, through the same gate."""
    try:
        upn = normalize_upn(mailbox)
    except BotError as exc:
        ephemeral(respond, exc.describe())
        return
    target = next((t for t in services.probe_targets if t.mailbox.lower() == upn), None)
    auth_mode = "oauth" if target is not None and target.auth == "xoauth2" else "basic"
    channel = (body.get("channel") or {}).get("id")
    # The plan goes in the alert's thread (a click with no message, e.g. from elsewhere, opens it in the channel).
    message = body.get("message") or {}
    thread = (message.get("thread_ts") or message.get("ts") or (body.get("container") or {}).get("message_ts")
              if channel else None)
    open_request(services, upn, user, str(channel or services.alert_channel or ""), False, auth_mode, respond,
                 thread_ts=str(thread) if thread else None)


def probe_now(services: SlackServices, name: str, user: str, body: dict[str, Any], respond: Respond) -> None:
    target = find_target(services.probe_targets, name)
    if target is None:
        ephemeral(respond, f"No probe target '{name[:80]}' any more.")
        return
    answer_probe(services, services.probe_now(target), respond)


def snooze(services: SlackServices, value: str, user: str, body: dict[str, Any], respond: Respond, *,
           hours: int) -> None:
    """Snooze the incident the clicked card shows (its value: `ids.alert_value`), refused if it is over."""
    parsed = ids.parse_alert_value(value)
    name, incident, cause = parsed or (value, None, None)
    target = find_target(services.probe_targets, name) if parsed else None
    try:
        until = (services.snooze(name, target.mailbox, user, hours, incident=incident, cause=cause)
                 if target else None)
    except BotError as exc:  # not allowed, or a card drawn before its incident changed
        ephemeral(respond, exc.describe())
        return
    if target is None or until is None:
        ephemeral(respond, f"Nothing to snooze for '{esc(name[:80])}': no incident is open.")
        return
    ephemeral(respond, f"Alerts for {esc(target.name)} are snoozed for {hours} h, until {local_time(until)}, "
                       "for this incident and cause only.")


def unsnooze(services: SlackServices, value: str, user: str, body: dict[str, Any], respond: Respond) -> None:
    parsed = ids.parse_alert_value(value)
    name, incident, cause = parsed or (value, None, None)
    target = find_target(services.probe_targets, name) if parsed else None
    try:
        woken = services.unsnooze(name, target.mailbox, user, incident=incident, cause=cause) if target else False
    except BotError as exc:
        ephemeral(respond, exc.describe())
        return
    ephemeral(respond, f"Alerts for {esc(target.name)} are no longer snoozed." if target and woken
              else f"Nothing snoozed for '{esc(name[:80])}'.")


ALERT_ACTIONS: dict[str, AlertWork] = {
    ids.ACTION_ALERT_FIX: fix, ids.ACTION_ALERT_PROBE: probe_now, ids.ACTION_ALERT_UNSNOOZE: unsnooze,
    **{action_id: partial(snooze, hours=hours) for hours, action_id in ids.ACTION_ALERT_SNOOZE_FOR.items()},
}


def register(app: App, services: SlackServices) -> None:
    for action_id, work in ALERT_ACTIONS.items():
        app.action(action_id)(partial(on_alert, work, services))
