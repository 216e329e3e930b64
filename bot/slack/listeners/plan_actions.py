"""Plan card buttons (Approve, Deny, Undo and its decision, Retry, Retry failed, Approve all, Apply anyway): ack, then the pool."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import App

from bot.slack import ids
from bot.slack.listeners.common import QUIET, Ack, Respond, clicked, ephemeral, tell, tells_all
from bot.slack.services import SlackServices

log = logging.getLogger(__name__)

#: What a click on a step's button does, on the pool: (services, step id, clicking user, respond).
StepWork = Callable[[SlackServices, int, str, Respond], None]


def step_id_of(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 19 else None


def on_step(work: StepWork, services: SlackServices, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
    """Any step button: ack, check the click names a step, and hand (step id, user) to `work` on the pool."""
    ack()
    parsed = clicked(body)
    step_id = step_id_of(parsed[1]) if parsed else None
    if parsed is None or step_id is None:
        log.warning("ignoring a malformed click")
        return
    services.submit(work, services, step_id, parsed[0], respond)


def decide(services: SlackServices, step_id: int, user: str, respond: Respond, *, approve: bool) -> None:
    outcome = services.workflow.decide(step_id, user, approve=approve)
    try:
        tell(respond, outcome)
    finally:  # the approved step runs even when the clicker could not be told
        if outcome.run:
            services.workflow.run(step_id)


def approve(services: SlackServices, step_id: int, user: str, respond: Respond) -> None:
    decide(services, step_id, user, respond, approve=True)


def deny(services: SlackServices, step_id: int, user: str, respond: Respond) -> None:
    decide(services, step_id, user, respond, approve=False)


def undo(services: SlackServices, step_id: int, user: str, respond: Respond) -> None:
    tell(respond, services.workflow.request_undo(step_id, user))


def retry(services: SlackServices, step_id: int, user: str, respond: Respond) -> None:
    tell(respond, services.workflow.retry(step_id, user))


def retry_failed(services: SlackServices, step_id: int, user: str, respond: Respond) -> None:
    tell(respond, services.workflow.retry_failed(step_id, user))


STEP_ACTIONS: dict[str, StepWork] = {
    ids.ACTION_APPROVE: approve,
    ids.ACTION_DENY: deny,
    ids.ACTION_UNDO_APPROVE: approve,
    ids.ACTION_UNDO_DENY: deny,
    ids.ACTION_UNDO: undo,
    ids.ACTION_RETRY: retry,
    ids.ACTION_RETRY_FAILED: retry_failed,
}


#: What a click on a request's button does, on the pool: (services, request id, clicking user, respond).
RequestWork = Callable[[SlackServices, str, str, Respond], None]


def on_request(work: RequestWork, services: SlackServices, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
    """Any request button (Approve all, Apply anyway): ack, and hand (request id, user) to `work` on the pool."""
    ack()
    parsed = clicked(body)
    if parsed is None:
        return
    services.submit(work, services, parsed[1][:40], parsed[0], respond)


def approve_every_step(services: SlackServices, request_id: str, user: str, respond: Respond) -> None:
    outcomes = services.workflow.approve_all(request_id, user)
    said = [o.message for o in outcomes if o.kind not in QUIET]
    if tells_all(respond):  # App Home: nothing under the click shows what happened, so say it all, once
        said = list(dict.fromkeys(o.message for o in outcomes)) or ["Nothing was waiting for approval."]
        ephemeral(respond, " ".join(said))
    elif said:
        ephemeral(respond, said[0])


def go_on_anyway(services: SlackServices, request_id: str, user: str, respond: Respond) -> None:
    tell(respond, services.workflow.apply_anyway(request_id, user))


def register(app: App, services: SlackServices) -> None:
    for action_id, work in STEP_ACTIONS.items():
        app.action(action_id)(partial(on_step, work, services))
    app.action(ids.ACTION_APPROVE_ALL)(partial(on_request, approve_every_step, services))
    app.action(ids.ACTION_APPLY_ANYWAY)(partial(on_request, go_on_anyway, services))
