"""Button clicks on plan cards: ack at once, then decide through the gate and run on the pool."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.errors import BotError
from bot.probing import find_target
from bot.runtime import Runtime
from bot.slack import ids
from bot.slack.commands import answer_probe, ephemeral, open_request
from bot.workflow.model import Outcome, OutcomeKind
from handlers.facts import normalize_upn

log = logging.getLogger(__name__)
QUIET = frozenset({OutcomeKind.APPROVED, OutcomeKind.DENIED, OutcomeKind.UNDO_APPROVED, OutcomeKind.UNDO_DENIED,
                   OutcomeKind.UNDO_REQUESTED, OutcomeKind.RETRY})


def clicked(body: dict[str, Any]) -> tuple[str, str] | None:
    """(user id, button value) of a well-formed block_actions body, else None."""
    try:
        user = body["user"]["id"]
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(user, str) or not isinstance(value, str) or not user:
        return None
    return user, value


def step_id_of(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 19 else None


def tell(respond: Callable[..., Any], outcome: Outcome) -> None:
    if outcome.kind not in QUIET:
        ephemeral(respond, outcome.message)


def register(app: App, runtime: Runtime) -> None:
    flow = runtime.workflow

    def decide(step_id: int, user: str, approve: bool, respond: Callable[..., Any]) -> None:
        outcome = flow.decide(step_id, user, approve=approve)
        tell(respond, outcome)
        if outcome.run:
            flow.run(step_id)

    def on_step(handler: Callable[[int, str, Callable[..., Any]], None]) -> Callable[..., None]:
        def listener(ack: Callable[..., Any], body: dict[str, Any], respond: Callable[..., Any]) -> None:
            ack()
            parsed = clicked(body)
            step_id = step_id_of(parsed[1]) if parsed else None
            if parsed is None or step_id is None:
                log.warning("ignoring a malformed click")
                return
            runtime.submit(handler, step_id, parsed[0], respond)
        return listener

    app.action(ids.ACTION_APPROVE)(on_step(lambda s, u, r: decide(s, u, True, r)))
    app.action(ids.ACTION_DENY)(on_step(lambda s, u, r: decide(s, u, False, r)))
    app.action(ids.ACTION_UNDO_APPROVE)(on_step(lambda s, u, r: decide(s, u, True, r)))
    app.action(ids.ACTION_UNDO_DENY)(on_step(lambda s, u, r: decide(s, u, False, r)))
    app.action(ids.ACTION_UNDO)(on_step(lambda s, u, r: tell(r, flow.request_undo(s, u))))
    app.action(ids.ACTION_RETRY)(on_step(lambda s, u, r: tell(r, flow.retry(s, u))))

    def on_value(handler: Callable[[str, str, dict[str, Any], Callable[..., Any]], None]) -> Callable[..., None]:
        def listener(ack: Callable[..., Any], body: dict[str, Any], respond: Callable[..., Any]) -> None:
            ack()
            parsed = clicked(body)
            if parsed is None or not parsed[1] or len(parsed[1]) > 320:
                log.warning("ignoring a malformed click")
                return
            runtime.submit(handler, parsed[1], parsed[0], body, respond)
        return listener

    app.action(ids.ACTION_ALERT_FIX)(on_value(lambda v, u, b, r: fix_from_alert(runtime, v, u, b, r)))
    app.action(ids.ACTION_ALERT_PROBE)(on_value(lambda v, u, b, r: probe_from_alert(runtime, v, r)))
    app.action(ids.ACTION_ALERT_SNOOZE)(on_value(lambda v, u, b, r: snooze_from_alert(runtime, v, u, r)))

    @app.action(ids.ACTION_APPROVE_ALL)
    def approve_all(ack: Callable[..., Any], body: dict[str, Any], respond: Callable[..., Any]) -> None:
        ack()
        parsed = clicked(body)
        if parsed is None:
            return
        runtime.submit(approve_every_step, runtime, parsed[1][:40], parsed[0], respond)


def approve_every_step(runtime: Runtime, request_id: str, user: str, respond: Callable[..., Any]) -> None:
    refusals = [o.message for o in runtime.workflow.approve_all(request_id, user) if o.kind not in QUIET]
    if refusals:
        ephemeral(respond, refusals[0])


def fix_from_alert(runtime: Runtime, mailbox: str, user: str, body: dict[str, Any],
                   respond: Callable[..., Any]) -> None:
    """The alert's Fix button: the same diagnosis and plan as /smtp-enable, through the same gate."""
    try:
        upn = normalize_upn(mailbox)
    except BotError as exc:
        ephemeral(respond, exc.describe())
        return
    target = next((t for t in runtime.cfg.probes.targets if t.mailbox.lower() == upn), None)
    auth_mode = "oauth" if target is not None and target.auth == "xoauth2" else "basic"
    channel = str((body.get("channel") or {}).get("id") or runtime.cfg.slack.alert_channel or "")
    open_request(runtime, upn, user, channel, False, auth_mode, respond)


def probe_from_alert(runtime: Runtime, name: str, respond: Callable[..., Any]) -> None:
    target = find_target(runtime.cfg.probes.targets, name)
    if target is None:
        ephemeral(respond, f"No probe target '{name[:80]}' any more.")
        return
    answer_probe(runtime, runtime.probe_now(target), respond)


def snooze_from_alert(runtime: Runtime, name: str, user: str, respond: Callable[..., Any]) -> None:
    target = find_target(runtime.cfg.probes.targets, name)
    until = runtime.alerting.snooze(name, target.mailbox if target else "", user) if target else None
    if until is None:
        ephemeral(respond, f"Nothing to snooze for '{name[:80]}'.")
        return
    ephemeral(respond, f"Alerts for {target.name} are snoozed until {until:%Y-%m-%d %H:%M} UTC.")
