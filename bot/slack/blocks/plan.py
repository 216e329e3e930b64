"""The plan card of a change request: its steps with their state and buttons, advisories, and a footer. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.slack import ids
from bot.slack.blocks import bulk, confirms
from bot.slack.blocks.kit import (
    EXTRAS_ROOM,
    MAX_BLOCKS,
    MAX_CHARS,
    Block,
    Budget,
    button,
    chars,
    context,
    divider,
    fallback,
    header,
    section,
)
from bot.slack.blocks.mrkdwn import clip, code, esc, link, local_time, md, md_links, who
from bot.workflow.model import (
    AUTH_MODE_WORDS,
    BulkMailbox,
    ChangeRequest,
    RequestState,
    RequestStep,
    RequestView,
    StepState,
    command_for,
)
from handlers import BULK, Status, display

S = StepState
STATE_LABELS = {
    S.PENDING: ":hourglass_flowing_sand: waiting for approval",
    S.APPROVED: ":gear: approved, applying",
    S.APPLYING: ":gear: applying",
    S.APPLIED: ":gear: applied, verifying",
    S.VERIFIED: ":white_check_mark: applied and verified",
    S.DENIED: ":no_entry_sign: denied",
    S.EXPIRED: ":clock3: expired",
    S.FAILED: ":x: failed",
    S.REVERT_PENDING: ":leftwards_arrow_with_hook: undo waiting for approval",
    S.REVERTING: ":gear: undoing",
    S.REVERTED: ":leftwards_arrow_with_hook: undone",
}


def _value_text(step: RequestStep, value: Any, which: str) -> str:
    """Words for a before/after value: the plan's own text when it is the planned value, else the handler's."""
    proposed = step.proposed or {}
    if which in proposed and proposed[which] == value and f"{which}_text" in proposed:
        return str(proposed[f"{which}_text"])
    if step.handler_key in BULK:
        return "each mailbox's own prior value, inherits included"
    return display(step.handler_key, value)


def is_open(request: ChangeRequest, step: RequestStep, now: datetime) -> bool:
    """A pending step that can still be approved."""
    return step.state == S.PENDING and request.expires_at > now


def label(request: ChangeRequest, step: RequestStep, now: datetime) -> str:
    if step.state == S.PENDING and not is_open(request, step, now):
        return STATE_LABELS[S.EXPIRED]
    return STATE_LABELS.get(step.state, esc(step.state))


def _approve(step: RequestStep) -> dict[str, Any]:
    return button("Approve", ids.ACTION_APPROVE, str(step.id), style="primary", confirm_dialog=confirms.approve(step))


def _undo(step: RequestStep) -> dict[str, Any]:
    dialog = confirms.undo(step, _value_text(step, step.before, "current"))
    return button("Undo", ids.ACTION_UNDO, str(step.id), confirm_dialog=dialog)


def controls(request: ChangeRequest, step: RequestStep, now: datetime,
             held: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """The status line and the buttons a step shows in its current state (none while the request is held)."""
    value = str(step.id)
    approver = f"{who(step.decided_by)} at {local_time(step.decided_at)}"
    asker = f"{who(step.undo_requested_by)} at {local_time(step.undo_requested_at)}"
    undoer = f"{who(step.undo_decided_by)} at {local_time(step.undo_decided_at)}"
    if is_open(request, step, now) and held:
        return ":lock: Not offered for approval: it would not be enough on its own (see above)", []
    if is_open(request, step, now):
        return "", [_approve(step), button("Deny", ids.ACTION_DENY, value, style="danger")]
    if step.state in (S.PENDING, S.EXPIRED):
        return f":clock3: Expired at {local_time(request.expires_at)} — run {command_for(request, code)} again", []
    if step.state in (S.APPROVED, S.APPLYING):
        return f":gear: Approved by {approver} — applying…", []
    if step.state == S.APPLIED:
        return f":gear: Applied at {local_time(step.applied_at)} after approval by {approver} — verifying…", []
    if step.state == S.VERIFIED:
        before = md(_value_text(step, step.before, "current"), 200)
        after = md(_value_text(step, step.after, "proposed"), 200)
        line = (f":white_check_mark: Applied and verified by the bot at {local_time(step.applied_at)} after approval "
                f"by {approver}: {before} → {after}")
        if step.error:
            line += f"\n:warning: {md(step.error, 500)}"
        return "\n".join(filter(None, [line, last_undo(step)])), [_undo(step)]
    if step.state == S.FAILED:
        line = (f":x: Failed at {local_time(step.updated_at)} after approval by {approver}: "
                f"{md(step.error or 'no details recorded', 800)}")
        if request.expires_at <= now:
            return f"{line}\n:clock3: Expired — run {command_for(request, code)} again", []
        return line, [button("Retry", ids.ACTION_RETRY, value)]
    if step.state == S.DENIED:
        return f":no_entry_sign: Denied by {approver}", []
    if step.state == S.REVERT_PENDING:
        dialog = confirms.approve_undo(step, _value_text(step, step.before, "current"))
        return f":leftwards_arrow_with_hook: Undo requested by {asker} — waiting for an approver", [
            button("Approve undo", ids.ACTION_UNDO_APPROVE, value, style="primary", confirm_dialog=dialog),
            button("Deny undo", ids.ACTION_UNDO_DENY, value, style="danger"),
        ]
    if step.state == S.REVERTING:
        return f":gear: Undoing, asked by {asker}, approved by {undoer}…", []
    if step.state == S.REVERTED:
        return (f":leftwards_arrow_with_hook: Undone at {local_time(step.updated_at)}, asked by {asker}, approved by "
                f"{undoer}: restored {md(_value_text(step, step.before, 'current'), 200)}"), []
    return esc(step.state), []


def last_undo(step: RequestStep) -> str:
    """Back at `verified` after an undo was asked for: who asked, and who denied it or approved it (then it failed)
    or that nobody decided in time; "" when no undo was asked for."""
    if step.state != S.VERIFIED or not step.undo_requested_by:
        return ""
    asked = f"Undo asked by {who(step.undo_requested_by)} at {local_time(step.undo_requested_at)}"
    decided = f"{who(step.undo_decided_by)} at {local_time(step.undo_decided_at)}"
    if not step.undo_decided_by:
        return f":clock3: {asked} expired without a decision"
    if step.approvals:
        return f":x: {asked}, approved by {decided}, failed: the change stays"
    return f":no_entry_sign: {asked} was denied by {decided}"


def bulk_controls(request: ChangeRequest, step: RequestStep, mailboxes: tuple[BulkMailbox, ...],
                  now: datetime) -> tuple[str, list[dict[str, Any]]]:
    """A bulk step's status and buttons: progress while it runs, then per-mailbox outcomes, Retry failed, Undo."""
    needed = int((step.proposed or {}).get("approvals_needed") or 1)
    if step.state in (S.APPLYING, S.REVERTING):
        return bulk.progress_line(step, mailboxes), []
    if step.state in (S.VERIFIED, S.FAILED, S.REVERTED):
        lines = bulk.outcome_lines(step, mailboxes)
        if step.state == S.VERIFIED:
            return "\n".join(filter(None, [*lines, last_undo(step)])), [*bulk.retry_failed(step, mailboxes),
                                                                        _undo(step)]
        if step.state == S.FAILED and request.expires_at > now:
            return "\n".join(lines), [button("Retry", ids.ACTION_RETRY, str(step.id))]
        if step.state == S.REVERTED:
            lines.insert(0, f":leftwards_arrow_with_hook: Undone at {local_time(step.updated_at)}, asked by "
                         f"{who(step.undo_requested_by)} at {local_time(step.undo_requested_at)}, approved by "
                         f"{who(step.undo_decided_by)} at {local_time(step.undo_decided_at)}")
        return "\n".join(lines), []
    status, buttons = controls(request, step, now)
    if step.state == S.REVERT_PENDING:
        status = "\n".join([*bulk.outcome_lines(step, mailboxes), status])
    if step.state in (S.PENDING, S.EXPIRED) and not buttons:
        status = f":clock3: Expired at {local_time(request.expires_at)} — run {command_for(request, code)} again"
    return "\n".join(filter(None, [status, bulk.approvals_line(step, needed)])), buttons


def controls_block(step: RequestStep, buttons: list[dict[str, Any]]) -> list[Block]:
    return [{"type": "actions", "block_id": ids.step_block_id(step.id), "elements": buttons}] if buttons else []


def _step_group(request: ChangeRequest, step: RequestStep, number: int, now: datetime, room: int,
                held: bool, mailboxes: tuple[BulkMailbox, ...] | None = None) -> list[Block]:
    """One step of a plan card in about `room` characters: what changes, why, the impact, state and buttons.

    A bulk step also lists its mailboxes (the first few by name) and, once it ran, what happened to each.
    """
    proposed = step.proposed or {}
    share = max(120, (room - 450) // 3)
    lines = [f"*{number}. {md(step.title, 150)}*: {md(proposed.get('current_text', '?'), 150)}"
             f" → {md(proposed.get('proposed_text', '?'), 150)}"]
    if proposed.get("reason"):
        lines.append(f"Why: {md(proposed['reason'], share)}")
    if proposed.get("impact"):
        icon, words = (":shield:", "Security impact") if proposed.get("reduces_exposure") else (":warning:", "Impact")
        lines.append(f"{icon} *{words}:* {md(proposed['impact'], share)}")
    if proposed.get("docs"):
        lines.append(_docs(proposed["docs"]))
    if mailboxes is not None:
        lines += bulk.mailbox_lines(mailboxes)
        status, buttons = bulk_controls(request, step, mailboxes, now)
    else:
        status, buttons = controls(request, step, now, held)
        needed = int(proposed.get("approvals_needed") or 1)  # a wide change: "1 of 2 so far", as bulk steps say
        status = "\n".join(filter(None, [status, bulk.approvals_line(step, needed)]))
    if status:
        lines.append(clip(status, share + 200 if mailboxes is None else 2800 - len("\n".join(lines))))
    return [section("\n".join(lines)), *controls_block(step, buttons)]


def _approve_all(request: ChangeRequest, steps: list[RequestStep]) -> list[Block]:
    dialog = confirms.approve_all(request, steps)
    return [{"type": "actions", "block_id": ids.request_block_id(request.id), "elements": [
        button(f"Approve all {len(steps)}", ids.ACTION_APPROVE_ALL, request.id, style="primary",
               confirm_dialog=dialog)]}]


def _apply_anyway(request: ChangeRequest, blockers: list[str]) -> list[Block]:
    dialog = confirms.apply_anyway(blockers)
    return [{"type": "actions", "block_id": ids.anyway_block_id(request.id), "elements": [
        button("Apply anyway", ids.ACTION_APPLY_ANYWAY, request.id, style="danger", confirm_dialog=dialog)]}]


def _diagnose_again(request: ChangeRequest) -> list[Block]:
    """Offered while a check could not be read: the same diagnosis again, for the same mailbox and options."""
    return [{"type": "actions", "block_id": ids.again_block_id(request.id), "elements": [
        button("Diagnose again", ids.ACTION_DIAGNOSE_AGAIN, request.id)]}]


def _unreadable(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in plan.get("advisories", []) if f.get("status") == Status.UNKNOWN]


def _overflow(request: ChangeRequest, steps: list[RequestStep], first: int, now: datetime) -> list[Block]:
    if not steps:
        return []
    lines = [f"{n}. {md(s.title, 100)} — {label(request, s, now)}" for n, s in enumerate(steps, first)]
    note = f"_…and {len(steps)} more steps; Approve all covers the pending ones:_"
    return [section(clip("\n".join([note, *lines]), 1500))]


# Plan card -------------------------------------------------------------------------------------------
def _advisory(finding: dict[str, Any], any_steps: bool) -> Block:
    title, status = md(finding.get("title", ""), 150), finding.get("status")
    if status == Status.BLOCKED:
        also = "Also blocking" if any_steps else "Blocking"
        lines = [f":no_entry: *{also} — the bot cannot change this: {title}*"]
    elif status == Status.UNKNOWN:
        lines = [f":grey_question: *{title}* (could not be checked)"]
    else:
        lines = [f":warning: *{title}*"]
    lines.append(md(finding.get("summary", ""), 800))
    if finding.get("advice"):
        lines.append(f"What to do: {md_links(finding['advice'], 1200)}")
    if finding.get("docs"):
        lines.append(_docs(finding["docs"]))
    return section("\n".join(lines))


def _docs(url: str) -> str:
    return f":book: {link(url, 'Microsoft docs')}"


def _extras(plan: dict[str, Any], any_steps: bool) -> list[list[Block]]:
    """Advisories (blocking first), settings not proposed, already OK, not applicable: one group each."""
    advisories = sorted(plan.get("advisories", []), key=lambda f: f.get("status") != Status.BLOCKED)
    groups = [[_advisory(f, any_steps)] for f in advisories]
    if plan.get("not_proposed"):
        lines = [f"• *{md(item['finding'].get('title', ''), 150)}*: {md(item['why'], 400)}"
                 for item in plan["not_proposed"]]
        groups.append([section("\n".join(["*Not proposed:*", *lines]))])
    if plan.get("ok"):
        names = ", ".join(md(f.get("title", ""), 100) for f in plan["ok"])
        groups.append([context(f":white_check_mark: Already OK: {names}")])
    if plan.get("not_applicable"):
        items = "; ".join(f"{md(f.get('title', ''), 100)} ({md(f.get('summary', ''), 200)})"
                          for f in plan["not_applicable"])
        groups.append([context(f":heavy_minus_sign: Not applicable: {items}")])
    return groups


def _auth_mode(request: ChangeRequest) -> str:
    diagnosis = request.diagnosis.get("diagnosis") or {}
    return str(request.options.get("auth_mode") or diagnosis.get("auth_mode") or "basic")


def _cleanup_summary(view: RequestView) -> tuple[str, str]:
    """The clean-up's summary: how many mailboxes, unused for how long, and that it reduces exposure."""
    cleanup = view.plan.get("cleanup") or {}
    count, days = int(cleanup.get("count") or 0), int(cleanup.get("days") or 0)
    line = (f"Turn SMTP AUTH off for *{count} mailbox{'es' if count != 1 else ''}* that have it on but have not used "
            f"it in {days} days. :shield: This *reduces* exposure; Undo restores each mailbox exactly.")
    if not count:
        line = ":shield: Turn SMTP AUTH off for the organisation: this *reduces* exposure."
    if any(s.handler_key not in BULK for s in view.steps):
        line += " No mailbox that inherits the organisation's setting used SMTP AUTH, so the organisation switch " \
                "off is proposed too."
    return line, f"SMTP AUTH off for {count} unused mailboxes proposed"


def _summary(view: RequestView) -> tuple[str, str]:
    """(summary line for the card, short words for the notification)."""
    if view.cleanup:
        return _cleanup_summary(view)
    plan, request = view.plan, view.request
    user = (request.diagnosis.get("diagnosis") or {}).get("user") or {}
    name = md(user.get("displayName") or request.upn, 150)
    mode = AUTH_MODE_WORDS.get(_auth_mode(request), esc(_auth_mode(request)))
    if view.steps and plan.get("blocked"):
        return _not_enough(view, name, mode)
    if not view.steps and plan.get("blocked"):
        return (f"*{name}* · {mode} · :no_entry: Blocked by something the bot cannot change (below).",
                "blocked by something the bot cannot change")
    if not view.steps and _unreadable(plan):
        names = md(", ".join(str(f.get("title", "")) for f in _unreadable(plan)), 400)
        return (f"*{name}* · {mode} · :grey_question: *Not fully checked*: {names} could not be read (why below), so "
                "the bot cannot say SMTP AUTH works. Nothing else it checks needs a change; *Diagnose again* to "
                "read it anew.", "not fully checked")
    if not view.steps:
        return (f"*{name}* · {mode} · :white_check_mark: Nothing to change: nothing the bot checks blocks "
                "SMTP AUTH for this mailbox.", "nothing to change")
    count = f"{len(view.steps)} change{'s' if len(view.steps) > 1 else ''}"
    ok = f" · {len(plan.get('ok', []))} settings already OK" if plan.get("ok") else ""
    return f"*{name}* · {mode} · {count} needed, each approved on its own{ok}", f"{count} proposed"


def _not_enough(view: RequestView, name: str, mode: str) -> tuple[str, str]:
    """The summary when a blocker the bot cannot change remains: the changes will not be enough, and why."""
    blockers = md(", ".join(view.blockers()), 400)
    line = (f"*{name}* · {mode} · :no_entry: *The proposed changes will not be enough*: {blockers} also "
            "blocks SMTP AUTH, and the bot cannot change it (see below).")
    if view.held:
        line += (" The changes are shown without Approve buttons; an approver can choose *Apply anyway*, after "
                 "which each still needs its own approval.")
    else:
        line += (f" {who(view.applied_anyway_by)} chose to apply them anyway at "
                 f"{local_time(view.request.applied_anyway_at)}; each still needs its own approval.")
    return line, "changes proposed, but they will not be enough"


def _footer(view: RequestView, now: datetime) -> Block:
    request = view.request
    parts = [esc(request.id), f"requested by {who(request.requester)}"]
    if any(s.state in (S.PENDING, S.FAILED) for s in view.steps):
        expired = request.expires_at <= now
        parts.append(f"{'expired' if expired else 'Approve before'} {local_time(request.expires_at)}")
    texts = [" · ".join(parts)]
    if _auth_mode(request) == "basic" and not view.cleanup:
        texts.append(f"Why OAuth? Microsoft is retiring Basic auth for SMTP AUTH, and OAuth (XOAUTH2) needs none of "
                     f"these exceptions: `/smtp-enable {esc(request.upn)} --oauth` checks that path.")
    return context(*texts)


def device_text(device: dict[str, Any], probe: dict[str, Any] | None = None) -> str:
    """An OAuth onboarding card's last words: what the device or app is configured with, and the XOAUTH2 probe
    the bot ran with the device's own app once the last step was verified (only what it saw)."""
    def v(key: str) -> str:
        return esc(str(device.get(key, "")))
    probed = []
    if probe:
        mark = ":white_check_mark: signed in" if probe.get("ok") else ":x: refused"
        when = f" at {local_time(probe['at'])}" if isinstance(probe.get("at"), datetime) else ""
        probed = [f"*XOAUTH2 probe* `{esc(str(probe.get('probe_target', '')))}` with the device's app{when}: {mark} — "
                  f"{md(str(probe.get('reply', '')), 300)}"]
    return "\n".join([
        "*What the device needs* (once the steps above are verified):",
        f"• SMTP server `{v('host')}`, port `{v('port')}`, {v('security')}",
        f"• Username `{v('username')}` · authentication {v('auth')}",
        f"• Tenant id `{v('tenant_id')}` · client id `{v('client_id')}` · the app's own client secret or "
        "certificate (Entra admin center › App registrations › the app › Certificates &amp; secrets; the bot never "
        "sees it)",
        f"• Token from `{v('token_endpoint')}` with scope `{v('scope')}`",
        *probed,
    ])


def plan_card(view: RequestView, *, now: datetime) -> dict[str, Any]:
    """The plan card: one section per step with its state and buttons, advisories, and a footer.

    An OAuth onboarding (`/smtp-oauth`) ends with what the device needs.
    """
    request, plan = view.request, view.plan
    onboarding = bool(request.options.get("app_id"))
    title = (f"SMTP OAuth onboarding for {request.upn}" if onboarding
             else f"SMTP AUTH clean-up: {request.upn}" if view.cleanup else f"SMTP AUTH plan for {request.upn}")
    footer = [_footer(view, now)]
    if plan.get("device"):
        footer.insert(0, section(device_text(plan["device"], view.probe)))
    if request.state == RequestState.DIAGNOSING:
        return {"text": fallback(f"{title}: diagnosing"), "blocks": [header(title), section(
            ":mag: Diagnosing… the plan will appear here."), *footer]}
    if plan.get("error"):
        body = [section(f":x: {md(plan['error'], 2000)}")]
        return {"text": fallback(f"{title}: diagnosis failed"), "blocks": [header(title), *body, *footer]}
    summary, notice = _summary(view)
    steps = sorted(view.steps, key=lambda s: s.position)
    open_steps = [s for s in steps if is_open(request, s, now)]
    if view.held:
        approve_all = _apply_anyway(request, view.blockers()) if open_steps else []
    else:
        approve_all = _approve_all(request, open_steps) if len(open_steps) > 1 else []
    head = [header(title), section(summary)]
    approve_all += _diagnose_again(request) if _unreadable(plan) else []
    fixed = head + approve_all + footer
    # Kept back besides: a divider and two notes of what did not fit.
    budget = Budget(MAX_BLOCKS - 3 - len(fixed), MAX_CHARS - 1800 - chars(fixed))
    room = max(600, min(2000, 8000 // max(1, len(steps))))
    shown: list[Block] = []
    for number, step in enumerate(steps, 1):
        group = _step_group(request, step, number, now, room, view.held, view.mailboxes.get(step.id))
        if not budget.take(group, keep=EXTRAS_ROOM):
            shown += _overflow(request, steps[number - 1:], number, now)
            break
        shown += group
    extras: list[Block] = []
    groups = _extras(plan, bool(steps))
    for n, group in enumerate(groups):
        if not budget.take(group):
            extras.append(context(f"_{len(groups) - n} more notes not shown: the card has no room for them._"))
            break
        extras += group
    blocks = head + shown + approve_all + ([divider()] if extras else []) + extras + footer
    waiting = f", {len(open_steps)} waiting for approval" if open_steps and not view.held else ""
    return {"text": fallback(f"{title}: {notice}{waiting}"), "blocks": blocks}


def request_summary(view: RequestView, now: datetime) -> str:
    """A request in a few lines, each step with its state (for /smtp-status and App Home)."""
    request = view.request
    head = f"*{esc(request.id)}* · {esc(request.upn)} · requested by {who(request.requester)}"
    if any(is_open(request, s, now) for s in view.steps):
        head += f" · approve before {local_time(request.expires_at)}"
    steps = sorted(view.steps, key=lambda s: s.position)
    lines = [f"{n}. {md(s.title, 100)} — {label(request, s, now)}" for n, s in enumerate(steps, 1)]
    return "\n".join([head, *lines] if lines else [head, "No changes proposed."])

