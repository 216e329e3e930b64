"""Block Kit payloads for probe alerts: the incident's card and the replies in its thread. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.alerts.policy import CAUSE_CHANGED, FLAPPING, RECOVER, Action
from bot.diagnosis import STEP_LABELS
from bot.probe.vocabulary import PROBE_CAUSES
from bot.slack import ids
from bot.slack.blocks import (
    FALLBACK_CHARS,
    button,
    clip,
    confirm,
    context,
    esc,
    header,
    md,
    section,
    who,
)
from bot.slack.blocks.mrkdwn import local_time, query_link, undated

REPLY_CHARS = 1500  # the server reply on the card; the store keeps it whole
MAX_PLANS = 5  # plans a card links, newest first
#: A plan started from the card's Fix: (request id, requester, its permalink or None).
PlanLink = tuple[str, str, str | None]


def _fallback(text: str) -> str:
    return md(" ".join(undated(text).split()), FALLBACK_CHARS)


def _times(count: int) -> str:
    return f"{count} time{'s' if count != 1 else ''}"


def _span(start: datetime | None, end: datetime | None) -> str:
    """A duration in words: "40 s", "25 min", "3 h 5 min", "2 d 4 h"."""
    if start is None or end is None:
        return "an unknown time"
    seconds = max(0, int((end - start).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    if not hours:
        return f"{minutes} min"
    days, hours = divmod(hours, 24)
    if not days:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{days} d {hours} h" if hours else f"{days} d"


def _one_line(text: str | None, limit: int) -> str:
    return md(" ".join((text or "no reply").split()), limit)


def _snoozed(action: Action, now: datetime) -> bool:
    return action.kind != RECOVER and action.snoozed_until is not None and action.snoozed_until > now


def _catalogued(explanation: dict[str, Any]) -> bool:
    return explanation.get("cause") not in (None, "unclassified")


def _cause(action: Action, explanation: dict[str, Any]) -> str:
    """The cause in plain words: the catalogue's, else what the probe itself saw, else the catalogue's shrug.
    A recovered card keeps only the title."""
    label = "*Last cause:*" if action.kind == RECOVER else "*Cause:*"
    if not _catalogued(explanation) and action.cause in PROBE_CAUSES:
        words = PROBE_CAUSES[action.cause]
        return f"{label} {esc(words[0].upper() + words[1:])}."
    text = f"{label} {md(explanation.get('title') or 'unknown', 150)}"
    if action.kind == RECOVER or not explanation.get("explanation"):
        return text
    return f"{text}\n{md(explanation['explanation'], 1200)}"


def _fix(explanation: dict[str, Any]) -> str:
    lines = [f"*Fix:* {md(explanation['advice'], 1200)}" if _catalogued(explanation) and explanation.get("advice")
             else "*Fix:* click *Fix* to diagnose the mailbox and get a plan of changes to approve."]
    if explanation.get("steps"):
        lines.append("Fixes the bot can apply, each after approval (click *Fix*):")
        lines += [f"{n}. {esc(STEP_LABELS.get(key, key))}" for n, key in enumerate(explanation["steps"], 1)]
    return clip("\n".join(lines), 2000)


def _status(action: Action, now: datetime) -> list[str]:
    if action.kind == RECOVER:
        lines = [f":white_check_mark: Recovered at {local_time(action.at)}, failed {_times(action.count)} over "
                 f"{_span(action.first_failure_at, action.at)}."]
    elif action.kind == FLAPPING:
        lines = [f":warning: Flapping: the result changed {action.changes} times in the last {action.probes} "
                 f"probes. No alerts, reminders or recoveries until it settles."]
    else:
        lines = [f":x: Failed {_times(action.count)} since {local_time(action.first_failure_at)}, last at "
                 f"{local_time(action.last_failure_at)}."]
    if action.reason == CAUSE_CHANGED:
        lines.append(f":warning: Cause changed from `{md(action.previous_cause or 'unknown', 100)}` to "
                     f"`{md(action.cause or 'unknown', 100)}`.")
    if _snoozed(action, now):
        by = f" by {who(action.snoozed_by)}" if action.snoozed_by else ""
        lines.append(f":clock3: Snoozed{by} until {local_time(action.snoozed_until)}: no reminders until then, "
                     "unless the cause changes.")
    return lines


def _buttons(action: Action, now: datetime, snooze_hours: int) -> dict[str, Any]:
    elements = []
    if action.kind != RECOVER:
        elements.append(button("Fix", ids.ACTION_ALERT_FIX, action.mailbox, style="primary"))
    elements.append(button("Probe now", ids.ACTION_ALERT_PROBE, action.target))
    value = ids.alert_value(action.target, action.incident_id, action.cause)  # a stale card's click is refused
    if action.kind != RECOVER and _snoozed(action, now):
        elements.append(button("Unsnooze", ids.ACTION_ALERT_UNSNOOZE, value))
    elif action.kind != RECOVER:
        for hours, action_id in ids.ACTION_ALERT_SNOOZE_FOR.items():
            if hours > snooze_hours:
                continue
            dialog = confirm(f"Snooze for {hours} h?", f"No reminder for {action.target} for {hours} h, for this "
                             "incident and cause only. The card still updates, and a recovery is still posted.",
                             "Snooze")
            elements.append(button(f"Snooze {hours} h", action_id, value, confirm_dialog=dialog))
    return {"type": "actions", "elements": elements}


def _plans(plans: Sequence[PlanLink]) -> str:
    links = [f"{query_link(url, request_id) if url else md(request_id, 20)} by {who(requester)}"
             for request_id, requester, url in plans[:MAX_PLANS]]
    return clip(f":clipboard: Fix {'plan' if len(links) == 1 else 'plans'} in the thread: {', '.join(links)}", 2000)


def alert_card(action: Action, *, explanation: dict[str, Any], now: datetime,
               snooze_hours: int = 24, plans: Sequence[PlanLink] = ()) -> dict[str, Any]:
    """The incident's card as of `action`: failing (open, update, remind, stable), flapping or recovered.

    `explanation` is `bot.diagnosis.explain(action.reply)`. Fix (value: the mailbox) opens the `/smtp-enable`
    plan; Probe now and Snooze carry the target's name. `plans` link the plans its Fix started (in its thread),
    newest first, as (request id, requester, permalink or None).
    """
    word = {RECOVER: "recovered", FLAPPING: "flapping"}.get(action.kind, "failing")
    phase = f" in `{esc(action.phase)}`" if action.phase else ""
    reply = (action.reply or "no reply").strip().replace("```", "'''")
    blocks = [
        header(f"SMTP AUTH {word}: {action.target}"),
        section("\n".join([f"*{md(action.target, 100)}* · {md(action.mailbox, 200)}", *_status(action, now)])),
        section(f"*{'Last server reply' if action.kind == RECOVER else 'Server reply'}*{phase}:\n"
                f"```{md(reply, REPLY_CHARS)}```"),
        section(_cause(action, explanation)),
    ]
    if action.kind != RECOVER:
        blocks.append(section(_fix(explanation)))
    blocks.append(_buttons(action, now, snooze_hours))
    if plans:
        blocks.append(context(_plans(plans)))
    facts = [f"Incident {md(action.incident_id, 200)}" if action.incident_id else "No incident open",
             f"probe cause `{md(action.cause or 'unknown', 100)}`"]
    blocks.append(context(" · ".join(facts)))
    title = explanation.get("title") if _catalogued(explanation) else action.cause
    text = f"SMTP AUTH {word} for {action.target} ({action.mailbox}): {title or 'unknown cause'}, {_times(action.count)}"
    return {"text": _fallback(text), "blocks": blocks}


def _note(text: str) -> dict[str, Any]:
    return {"text": _fallback(text), "blocks": [section(text)]}


def reminder_text(action: Action, *, now: datetime) -> dict[str, Any]:
    """A `remind` in the card's thread: still failing, for how long, and the last reply."""
    return _note(f":clock3: *{md(action.target, 100)}* is still failing: {_times(action.count)} since "
                 f"{local_time(action.first_failure_at)} ({_span(action.first_failure_at, action.at)}).\n"
                 f"Last reply: `{_one_line(action.reply, 300)}`\n"
                 f"Click *Fix* on the card, or run `/smtp-enable {md(action.mailbox, 200)}`.")


def recovery_text(action: Action, *, now: datetime) -> dict[str, Any]:
    """A `recover` in the card's thread (the card itself is redrawn with `alert_card`)."""
    return _note(f":white_check_mark: *{md(action.target, 100)}* ({md(action.mailbox, 200)}) recovered at "
                 f"{local_time(action.at)}: it failed {_times(action.count)} over "
                 f"{_span(action.first_failure_at, action.at)}, last with `{md(action.cause or 'unknown', 100)}`.")


def flapping_text(action: Action, *, now: datetime) -> dict[str, Any]:
    """A `flapping` announcement: in the open incident's thread, or in the channel when none is open."""
    return _note(f":warning: *{md(action.target, 100)}* ({md(action.mailbox, 200)}) is flapping: the probe result "
                 f"changed {action.changes} times in the last {action.probes} probes (at {local_time(action.at)}). "
                 "No alerts, reminders or recoveries for it until it settles; a note follows when it does.")


def stable_text(action: Action, *, now: datetime) -> dict[str, Any]:
    """A `stable` note: the target stopped flapping; where it stands now."""
    if action.ok:
        where = "the last probe passed"
    else:
        where = (f"it is failing ({_times(action.count)} so far, last with "
                 f"`{md(action.cause or 'unknown', 100)}`)")
    return _note(f":information_source: *{md(action.target, 100)}* has stopped flapping at {local_time(action.at)}: "
                 f"{where}. Alerting is back to normal.")
