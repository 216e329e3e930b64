"""Block Kit payloads: plan cards, /smtp-status, /smtp-explain, App Home and short replies. Pure; no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.diagnosis import CHECK_LABELS, STEP_LABELS
from bot.slack import ids
from bot.workflow.model import ChangeRequest, RequestStep, RequestView, StepState
from handlers import REMEDIATIONS

Block = dict[str, Any]

# Slack's limits (reference §7), and our own budgets below them.
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_CHARS = 12_000  # all text of one message; Slack answers msg_blocks_too_long from about 13,000
VIEW_CHARS = 30_000  # App Home has no documented total; keep it light all the same
SECTION_CHARS = 3000
HEADER_CHARS = 150
BUTTON_CHARS = 75
CONFIRM_TITLE_CHARS = 100
CONFIRM_TEXT_CHARS = 300
CONFIRM_BUTTON_CHARS = 30
FALLBACK_CHARS = 300
LIST_LIMIT = 15  # requests or probes listed by /smtp-status and App Home
EXTRAS_ROOM = (4, 2500)  # blocks and characters a long plan leaves for the first advisories

USAGE = {
    "/smtp-enable": (
        "Type `/smtp-enable UPN [--org] [--oauth]` to diagnose why SMTP AUTH fails for a mailbox and post a "
        "plan; each change waits for an approver.\n`--org` proposes the organisation-wide switch instead of the "
        "mailbox's own; `--oauth` checks for OAuth (XOAUTH2) instead of a password.\n"
        "Example: `/smtp-enable scanner@contoso.com`"
    ),
    "/smtp-status": (
        "Type `/smtp-status [UPN]` to see open change requests and the last probe results, for one mailbox "
        "or for all, or `/smtp-status chart` for a chart of the last 7 days.\n"
        "Example: `/smtp-status scanner@contoso.com`"
    ),
    "/smtp-explain": (
        "Type `/smtp-explain REPLY`, pasting the SMTP error your device or app got, to learn what it means "
        "and what fixes it.\nExample: `/smtp-explain 535 5.7.139 Authentication unsuccessful, "
        "SmtpClientAuthentication is disabled for the Tenant.`"
    ),
    "/smtp-probe": (
        "Type `/smtp-probe TARGET` to run a configured SMTP probe now and see how it went.\n"
        "Example: `/smtp-probe scanner`"
    ),
}

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

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MENTION = re.compile(r"(<@[UW][A-Z0-9]{1,30}>)")
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")
_URL = re.compile(r"https?://[^\s<>|&]{1,2000}")


# Text ------------------------------------------------------------------------------------------------
def esc(text: Any) -> str:
    """`text` made inert for mrkdwn: `&`, `<`, `>` escaped, so it cannot mention, link or ping anyone."""
    return "".join(_ESCAPES.get(c, c) for c in str(text))


def esc_keeping_mentions(text: str) -> str:
    """Like `esc`, but `<@U…>` mentions (which the bot's own messages contain) stay mentions."""
    return "".join(part if _MENTION.fullmatch(part) else esc(part) for part in _MENTION.split(text))


def md(text: Any, limit: int) -> str:
    """Untrusted `text` for mrkdwn: escaped, then cut to `limit` characters."""
    return clip(esc(text), limit)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters ending in "…", never inside an `&entity;` or a `<…>` token."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if cut.rfind("&") > cut.rfind(";"):
        cut = cut[: cut.rfind("&")]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    return cut.rstrip() + "…"


def _line(text: Any, limit: int, *, lines: bool = False) -> str:
    """Plain text with its whitespace tidied (on one line unless `lines`), cut to `limit`."""
    rows = str(text).splitlines() if lines else [str(text)]
    flat = "\n".join(" ".join(row.split()) for row in rows).strip() or "-"
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _fallback(text: str) -> str:
    """The notification text of a message: escaped too, since Slack formats it."""
    return clip(esc(_line(text, FALLBACK_CHARS)), FALLBACK_CHARS)


def link(url: str, label: str) -> str:
    """A mrkdwn link to a web address; anything else shown as (escaped) text."""
    return f"<{url}|{esc(label)}>" if _URL.fullmatch(url) else md(url, 300)


def who(user: str | None) -> str:
    """A mention of a Slack user id; anything else (the bot, nobody) as plain words."""
    if user and _USER_ID.fullmatch(user):
        return f"<@{user}>"
    return esc(user or "someone")


def when(moment: datetime | None, now: datetime) -> str:
    """HH:MM UTC, with the day when it is not today."""
    if moment is None:
        return "unknown time"
    moment = moment.astimezone(UTC)
    return moment.strftime("%H:%M UTC" if moment.date() == now.astimezone(UTC).date() else "%d %b %H:%M UTC")


# Block constructors ----------------------------------------------------------------------------------
def _plain(text: Any, limit: int, *, lines: bool = False) -> dict[str, Any]:
    return {"type": "plain_text", "text": _line(text, limit, lines=lines), "emoji": True}


def header(text: str) -> Block:
    return {"type": "header", "text": _plain(text, HEADER_CHARS)}


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_CHARS)}}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(t, SECTION_CHARS)} for t in texts[:10]]}


def divider() -> Block:
    return {"type": "divider"}


def confirm(title: str, text: str, ok: str, *, style: str | None = None) -> dict[str, Any]:
    dialog = {"title": _plain(title, CONFIRM_TITLE_CHARS), "text": _plain(text, CONFIRM_TEXT_CHARS, lines=True),
              "confirm": _plain(ok, CONFIRM_BUTTON_CHARS), "deny": _plain("Cancel", CONFIRM_BUTTON_CHARS)}
    if style:
        dialog["style"] = style
    return dialog


def button(text: str, action_id: str, value: str, *, style: str | None = None,
           confirm_dialog: dict[str, Any] | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "action_id": action_id, "text": _plain(text, BUTTON_CHARS),
                               "value": value}
    if style:
        element["style"] = style
    if confirm_dialog:
        element["confirm"] = confirm_dialog
    return element


def _chars(node: Any) -> int:
    """All text in `node`, the way Slack adds it up against its message size limit."""
    if isinstance(node, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else _chars(v) for k, v in node.items())
    if isinstance(node, list):
        return sum(_chars(item) for item in node)
    return 0


class _Budget:
    """Blocks and characters left; `take` spends them on a group of blocks if it fits, keeping some back."""

    def __init__(self, blocks: int, chars: int) -> None:
        self.blocks, self.chars = blocks, chars

    def take(self, group: list[Block], *, keep: tuple[int, int] = (0, 0)) -> bool:
        size = _chars(group)
        if len(group) > self.blocks - keep[0] or size > self.chars - keep[1]:
            return False
        self.blocks, self.chars = self.blocks - len(group), self.chars - size
        return True


# Steps -----------------------------------------------------------------------------------------------
def _value_text(step: RequestStep, value: Any, which: str) -> str:
    """Words for a before/after value: the plan's own text when it is the planned value, else the handler's."""
    proposed = step.proposed or {}
    if which in proposed and proposed[which] == value and f"{which}_text" in proposed:
        return str(proposed[f"{which}_text"])
    handler = REMEDIATIONS.get(step.handler_key)
    return handler.display(value) if handler else str(value)


def _is_open(request: ChangeRequest, step: RequestStep, now: datetime) -> bool:
    """A pending step that can still be approved."""
    return step.state == S.PENDING and request.expires_at > now


def _label(request: ChangeRequest, step: RequestStep, now: datetime) -> str:
    if step.state == S.PENDING and not _is_open(request, step, now):
        return STATE_LABELS[S.EXPIRED]
    return STATE_LABELS.get(step.state, esc(step.state))


def _approve(step: RequestStep) -> dict[str, Any]:
    proposed = step.proposed or {}
    change = f"{step.title}: {proposed.get('current_text', '?')} → {proposed.get('proposed_text', '?')}."
    dialog = confirm("Approve this change?", f"{change} Impact: {proposed.get('impact', 'see the card')}",
                     "Approve", style="primary")
    return button("Approve", ids.ACTION_APPROVE, str(step.id), style="primary", confirm_dialog=dialog)


def _undo(step: RequestStep) -> dict[str, Any]:
    before = _value_text(step, step.before, "current")
    dialog = confirm("Undo this change?", f"This asks to restore the previous value of {step.title} ({before}). "
                     "An approver must approve the undo before anything changes.", "Ask to undo")
    return button("Undo", ids.ACTION_UNDO, str(step.id), confirm_dialog=dialog)


def _controls(request: ChangeRequest, step: RequestStep, now: datetime) -> tuple[str, list[dict[str, Any]]]:
    """The status line and the buttons a step shows in its current state."""
    value = str(step.id)
    approver = who(step.decided_by)
    if _is_open(request, step, now):
        return "", [_approve(step), button("Deny", ids.ACTION_DENY, value, style="danger")]
    if step.state in (S.PENDING, S.EXPIRED):
        return f":clock3: Expired — run `/smtp-enable {esc(request.upn)}` again", []
    if step.state in (S.APPROVED, S.APPLYING):
        return f":gear: Approved by {approver} — applying…", []
    if step.state == S.APPLIED:
        return f":gear: Applied after approval by {approver} — verifying…", []
    if step.state == S.VERIFIED:
        before = md(_value_text(step, step.before, "current"), 200)
        after = md(_value_text(step, step.after, "proposed"), 200)
        line = (f":white_check_mark: Applied and verified by the bot after approval by {approver} at "
                f"{when(step.decided_at or step.applied_at, now)}: {before} → {after}")
        if step.error:
            line += f"\n:warning: {md(step.error, 500)}"
        return line, [_undo(step)]
    if step.state == S.FAILED:
        line = f":x: Failed: {md(step.error or 'no details recorded', 800)}"
        if request.expires_at <= now:
            return f"{line}\n:clock3: Expired — run `/smtp-enable {esc(request.upn)}` again", []
        return line, [button("Retry", ids.ACTION_RETRY, value)]
    if step.state == S.DENIED:
        return f":no_entry_sign: Denied by {approver}", []
    if step.state == S.REVERT_PENDING:
        before = _value_text(step, step.before, "current")
        dialog = confirm("Approve the undo?", f"This restores the previous value of {step.title} ({before}).",
                         "Approve undo", style="primary")
        return ":leftwards_arrow_with_hook: Undo requested — waiting for an approver", [
            button("Approve undo", ids.ACTION_UNDO_APPROVE, value, style="primary", confirm_dialog=dialog),
            button("Deny undo", ids.ACTION_UNDO_DENY, value, style="danger"),
        ]
    if step.state == S.REVERTING:
        return ":gear: Undoing…", []
    if step.state == S.REVERTED:
        return f":leftwards_arrow_with_hook: Undone: restored {md(_value_text(step, step.before, 'current'), 200)}", []
    return esc(step.state), []


def _controls_block(step: RequestStep, buttons: list[dict[str, Any]]) -> list[Block]:
    return [{"type": "actions", "block_id": ids.step_block_id(step.id), "elements": buttons}] if buttons else []


def _step_group(request: ChangeRequest, step: RequestStep, number: int, now: datetime, room: int) -> list[Block]:
    """One step of a plan card in about `room` characters: what changes, why, the impact, state and buttons."""
    proposed = step.proposed or {}
    share = max(120, (room - 450) // 3)
    lines = [f"*{number}. {md(step.title, 150)}*: {md(proposed.get('current_text', '?'), 150)}"
             f" → {md(proposed.get('proposed_text', '?'), 150)}"]
    if proposed.get("reason"):
        lines.append(f"Why: {md(proposed['reason'], share)}")
    if proposed.get("impact"):
        lines.append(f":warning: *Impact:* {md(proposed['impact'], share)}")
    status, buttons = _controls(request, step, now)
    if status:
        lines.append(clip(status, share + 200))
    return [section("\n".join(lines)), *_controls_block(step, buttons)]


def _approve_all(request: ChangeRequest, steps: list[RequestStep]) -> list[Block]:
    head = f"Approve all {len(steps)} changes for {request.upn}?"
    each = max(30, (CONFIRM_TEXT_CHARS - len(head)) // len(steps) - 4)
    lines = [_line(f"• {s.title}: {(s.proposed or {}).get('impact', '')}", each) for s in steps]
    dialog = confirm(f"Approve all {len(steps)} changes?", "\n".join([head, *lines]), "Approve all",
                     style="primary")
    return [{"type": "actions", "block_id": ids.request_block_id(request.id), "elements": [
        button(f"Approve all {len(steps)}", ids.ACTION_APPROVE_ALL, request.id, style="primary",
               confirm_dialog=dialog)]}]


def _overflow(request: ChangeRequest, steps: list[RequestStep], first: int, now: datetime) -> list[Block]:
    if not steps:
        return []
    lines = [f"{n}. {md(s.title, 100)} — {_label(request, s, now)}" for n, s in enumerate(steps, first)]
    note = f"_…and {len(steps)} more steps; Approve all covers the pending ones:_"
    return [section(clip("\n".join([note, *lines]), 1500))]


# Plan card -------------------------------------------------------------------------------------------
def _advisory(finding: dict[str, Any], any_steps: bool) -> Block:
    title, status = md(finding.get("title", ""), 150), finding.get("status")
    if status == "blocked":
        also = "Also blocking" if any_steps else "Blocking"
        lines = [f":no_entry: *{also} — the bot cannot change this: {title}*"]
    elif status == "unknown":
        lines = [f":grey_question: *{title}* (could not be checked)"]
    else:
        lines = [f":warning: *{title}*"]
    lines.append(md(finding.get("summary", ""), 800))
    if finding.get("advice"):
        lines.append(f"What to do: {md(finding['advice'], 800)}")
    return section("\n".join(lines))


def _extras(plan: dict[str, Any], any_steps: bool) -> list[list[Block]]:
    """Advisories (blocking ones first), settings not proposed, and settings already OK: one group each."""
    advisories = sorted(plan.get("advisories", []), key=lambda f: f.get("status") != "blocked")
    groups = [[_advisory(f, any_steps)] for f in advisories]
    if plan.get("not_proposed"):
        lines = [f"• *{md(item['finding'].get('title', ''), 150)}*: {md(item['why'], 400)}"
                 for item in plan["not_proposed"]]
        groups.append([section("\n".join(["*Not proposed:*", *lines]))])
    if plan.get("ok"):
        names = ", ".join(md(f.get("title", ""), 100) for f in plan["ok"])
        groups.append([context(f":white_check_mark: Already OK: {names}")])
    return groups


def _auth_mode(request: ChangeRequest) -> str:
    diagnosis = request.diagnosis.get("diagnosis") or {}
    return str(request.options.get("auth_mode") or diagnosis.get("auth_mode") or "basic")


def _summary(view: RequestView) -> tuple[str, str]:
    """(summary line for the card, short words for the notification)."""
    plan, request = view.plan, view.request
    user = (request.diagnosis.get("diagnosis") or {}).get("user") or {}
    name = md(user.get("displayName") or request.upn, 150)
    mode = "OAuth" if _auth_mode(request) == "oauth" else "Basic"
    if not view.steps and plan.get("blocked"):
        return (f"*{name}* · {mode} auth · :no_entry: Blocked by something the bot cannot change (below).",
                "blocked by something the bot cannot change")
    if not view.steps:
        return (f"*{name}* · {mode} auth · :white_check_mark: Nothing to change: nothing the bot checks blocks "
                "SMTP AUTH for this mailbox.", "nothing to change")
    count = f"{len(view.steps)} change{'s' if len(view.steps) > 1 else ''}"
    blocked = " · :no_entry: also blocked by something the bot cannot change (below)" if plan.get("blocked") else ""
    ok = f" · {len(plan.get('ok', []))} settings already OK" if plan.get("ok") else ""
    return f"*{name}* · {mode} auth · {count} needed, each approved on its own{ok}{blocked}", f"{count} proposed"


def _footer(view: RequestView, now: datetime) -> Block:
    request = view.request
    parts = [esc(request.id), f"requested by {who(request.requester)}"]
    if any(s.state in (S.PENDING, S.FAILED) for s in view.steps):
        expired = request.expires_at <= now
        parts.append(f"{'expired' if expired else 'Approve before'} {when(request.expires_at, now)}")
    texts = [" · ".join(parts)]
    if _auth_mode(request) == "basic":
        texts.append(f"Why OAuth? Microsoft is retiring Basic auth for SMTP AUTH, and OAuth (XOAUTH2) needs none of "
                     f"these exceptions: `/smtp-enable {esc(request.upn)} --oauth` checks that path.")
    return context(*texts)


def plan_card(view: RequestView, *, now: datetime) -> dict[str, Any]:
    """The plan card: one section per step with its state and buttons, advisories, and a footer."""
    request, plan = view.request, view.plan
    title = f"SMTP AUTH plan for {request.upn}"
    footer = [_footer(view, now)]
    if plan.get("error"):
        body = [section(f":x: {md(plan['error'], 2000)}")]
        return {"text": _fallback(f"{title}: diagnosis failed"), "blocks": [header(title), *body, *footer]}
    summary, notice = _summary(view)
    steps = sorted(view.steps, key=lambda s: s.position)
    open_steps = [s for s in steps if _is_open(request, s, now)]
    approve_all = _approve_all(request, open_steps) if len(open_steps) > 1 else []
    head = [header(title), section(summary)]
    fixed = head + approve_all + footer
    # Kept back besides: a divider and two notes of what did not fit.
    budget = _Budget(MAX_BLOCKS - 3 - len(fixed), MAX_CHARS - 1800 - _chars(fixed))
    room = max(600, min(2000, 8000 // max(1, len(steps))))
    shown: list[Block] = []
    for number, step in enumerate(steps, 1):
        group = _step_group(request, step, number, now, room)
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
    waiting = f", {len(open_steps)} waiting for approval" if open_steps else ""
    return {"text": _fallback(f"{title}: {notice}{waiting}"), "blocks": blocks}


# /smtp-status and App Home ---------------------------------------------------------------------------
def _request_summary(view: RequestView, now: datetime) -> str:
    request = view.request
    head = f"*{esc(request.id)}* · {esc(request.upn)} · requested by {who(request.requester)}"
    if any(_is_open(request, s, now) for s in view.steps):
        head += f" · approve before {when(request.expires_at, now)}"
    steps = sorted(view.steps, key=lambda s: s.position)
    lines = [f"{n}. {md(s.title, 100)} — {_label(request, s, now)}" for n, s in enumerate(steps, 1)]
    return "\n".join([head, *lines] if lines else [head, "No changes proposed."])


PROBE_STATES = {
    "ok": (":white_check_mark:", "ok"),
    "failing": (":x:", "failing"),
    "flapping": (":warning:", "flapping"),
    "snoozed": (":zzz:", "snoozed"),
    "unknown": (":grey_question:", "no probe results yet"),
}


def _percent(value: float | None) -> str:
    """A fraction as "99.3 %" ("100 %" only when every probe passed), "–" without data."""
    if value is None:
        return "–"
    return "100 %" if value >= 1 else f"{min(value * 100, 99.9):.1f} %"


def _probe_state(probe: dict[str, Any]) -> tuple[str, str]:
    """The emoji and words for a probe's state: the old ok/failing, or a target status's richer `state`."""
    failing = f"failing: {md(probe.get('cause') or 'unknown cause', 100)}"
    if "state" not in probe:
        return (":white_check_mark:", "ok") if probe.get("ok") else (":x:", failing)
    emoji, words = PROBE_STATES.get(probe["state"], (":grey_question:", esc(probe["state"])))
    if probe["state"] == "failing":
        words = failing
    elif probe["state"] in ("flapping", "snoozed") and probe.get("ok") is not None:
        words += f", last probe {'ok' if probe['ok'] else failing}"
    return emoji, words


def _probe_line(probe: dict[str, Any], now: datetime) -> str:
    target = md(probe.get("target", "?"), 100)
    if probe.get("mailbox"):
        target += f" ({md(probe['mailbox'], 100)})"
    emoji, state = _probe_state(probe)
    parts = [f"{emoji} *{target}* {state}"]
    if isinstance(probe.get("at"), datetime):
        parts.append(when(probe["at"], now))
    if probe.get("latency_ms") is not None:
        parts.append(f"{probe['latency_ms']} ms")
    if "availability_24h" in probe or "availability_7d" in probe:
        parts.append(f"availability 24 h / 7 d: {_percent(probe.get('availability_24h'))} / "
                     f"{_percent(probe.get('availability_7d'))}")
    if probe.get("cert_days_left") is not None:
        parts.append(f"certificate expires in {probe['cert_days_left']} days")
    if probe.get("auth_mode"):
        parts.append(f"{esc(probe['auth_mode'])} auth")
    line = " · ".join(parts)
    if probe.get("ok") is False and probe.get("reply"):
        line += f"\nReply: {md(' '.join(str(probe['reply']).split()), 300)}"
    return line


def _basic_auth_block(basic_auth: dict[str, Any] | None) -> list[Block]:
    """The Basic-auth retirement note of `bot.history.basic_auth_summary`, when a target still uses Basic."""
    if not basic_auth or not basic_auth.get("count"):
        return []
    return [section(f":hourglass: {md(basic_auth.get('text', ''), 1200)}")]


def _listed(items: list[str], budget: _Budget, more: str) -> list[Block]:
    """One section per item while the budget lasts, then a note saying how many were left out."""
    blocks: list[Block] = []
    for n, text in enumerate(items):
        block = section(text)
        if n == LIST_LIMIT or not budget.take([block]):
            return [*blocks, context(f"_…and {len(items) - n} more {more}._")]
        blocks.append(block)
    return blocks


def status_blocks(requests: list[RequestView], probes: list[dict[str, Any]] | None, *, now: datetime,
                  upn: str | None = None, basic_auth: dict[str, Any] | None = None) -> dict[str, Any]:
    """`/smtp-status [UPN]`: open change requests with each step's state, then the probe targets.

    `probes` are last results or `bot.history.TargetStatus.to_dict()`s (with state and availability);
    `basic_auth` is `bot.history.basic_auth_summary(...)`, shown when a target still uses Basic auth.
    """
    title = f"SMTP AUTH status for {upn}" if upn else "SMTP AUTH status"
    budget = _Budget(MAX_BLOCKS - 6, MAX_CHARS - 1000)  # kept back: headers, notes
    blocks = [header(title)]
    if requests:
        blocks += _listed([_request_summary(v, now) for v in requests], budget, "requests")
    else:
        blocks.append(section("No open change requests."))
    if probes is not None:
        blocks.append(header("Last probe results"))
        blocks += _listed([_probe_line(p, now) for p in probes], budget, "probes") or [
            section("No probe results yet.")]
        blocks += _basic_auth_block(basic_auth)
    failing = sum(1 for p in probes or [] if not p.get("ok") and p.get("state") != "unknown")
    notice = f"{len(requests)} open request{'s' if len(requests) != 1 else ''}"
    if probes:
        notice += f", {failing} of {len(probes)} probes failing"
    return {"text": _fallback(f"{title}: {notice}"), "blocks": blocks}


def _home_step(request: ChangeRequest, step: RequestStep, now: datetime) -> list[Block]:
    proposed = step.proposed or {}
    status, buttons = _controls(request, step, now)
    lines = [f"*{esc(request.upn)}* · {esc(request.id)} · requested by {who(request.requester)} · approve before "
             f"{when(request.expires_at, now)}",
             f"*{md(step.title, 150)}*: {md(proposed.get('current_text', '?'), 150)} → "
             f"{md(proposed.get('proposed_text', '?'), 150)}"]
    if proposed.get("impact"):
        lines.append(f":warning: *Impact:* {md(proposed['impact'], 800)}")
    if status:
        lines.append(status)
    return [section("\n".join(lines)), *_controls_block(step, buttons)]


def home_view(*, viewer: str, pending: list[RequestView], recent: list[RequestView], probes: list[dict[str, Any]],
              is_approver: bool, now: datetime, allow_self_approval: bool = False) -> dict[str, Any]:
    """The App Home tab (for `views.publish`): what waits for the viewer, recent requests, probe status."""
    budget = _Budget(MAX_VIEW_BLOCKS - 10, VIEW_CHARS)  # kept back: headers, notes, footer
    blocks = [header("Waiting for your approval")]
    own: list[str] = []
    waiting: list[tuple[ChangeRequest, RequestStep]] = []
    for view in pending:
        request = view.request
        steps = [s for s in view.steps if _is_open(request, s, now) or s.state == S.REVERT_PENDING]
        if steps and (not is_approver or (request.requester == viewer and not allow_self_approval)):
            own.append(_request_summary(view, now))
        else:
            waiting += [(request, s) for s in sorted(steps, key=lambda s: s.position)]
    for n, (request, step) in enumerate(waiting):
        group = _home_step(request, step, now)
        if n == LIST_LIMIT or not budget.take(group):
            blocks.append(context(f"_…and {len(waiting) - n} more changes waiting; see the plan cards._"))
            break
        blocks += group
    if not waiting:
        blocks.append(section("Nothing is waiting for your approval." if is_approver else
                              "Only the configured approvers can approve changes."))
    if own:
        blocks.append(section("*Your requests, waiting for another approver:*"))
        blocks += _listed(own, budget, "requests")
    blocks.append(header("Recent requests"))
    blocks += _listed([_request_summary(v, now) for v in recent], budget, "requests") or [
        section("No requests yet.")]
    blocks.append(header("Probe status"))
    blocks += _listed([_probe_line(p, now) for p in probes], budget, "probes") or [section("No probe results yet.")]
    blocks.append(context(f"Updated {when(now, now)}"))
    return {"type": "home", "blocks": blocks}


# /smtp-explain and short replies ---------------------------------------------------------------------
def explain_blocks(explanation: dict[str, Any], *, upn: str | None = None) -> dict[str, Any]:
    """`/smtp-explain`: the cause, the reply, what it means, what to do, and the steps that fix it."""
    d = explanation
    blocks = [header(str(d["title"])), section(f"Cause: `{esc(d['cause'])}`" + (
        f"\n*Reply:* {md(d['reply'], 1000)}" if d.get("reply") else "") + (
        f"\n*Server reference:* {md(d['suffix'], 300)}" if d.get("suffix") else ""))]
    blocks.append(section(f"*What it means:* {md(d['explanation'], 1500)}"))
    blocks.append(section(f"*What to do:* {md(d['advice'], 1500)}"))
    if d.get("steps"):
        lines = [f"{n}. {esc(STEP_LABELS.get(key, key))}" for n, key in enumerate(d["steps"], 1)]
        blocks.append(section(clip("\n".join(["*Fixes the bot can apply, in order:*", *lines]), 1500)))
    if d.get("checks"):
        lines = [f"• {esc(CHECK_LABELS.get(key, key))}" for key in d["checks"]]
        blocks.append(section(clip("\n".join(["*Also check:*", *lines]), 1500)))
    if d["cause"] == "unclassified" and str(d.get("raw", "")).strip():
        blocks.append(section(f"*Raw reply:*\n```{md(d['raw'].strip(), 1500)}```"))
    if d.get("transient"):
        retry = "Temporary: the same attempt may work later."
    elif d["cause"] == "unclassified":
        retry = "Not known to be temporary."
    else:
        retry = "Retrying will keep failing until the cause is fixed."
    docs = f" · {link(str(d['docs']), 'Microsoft docs')}" if d.get("docs") else ""
    target = esc(upn) if upn else "UPN"
    blocks.append(context(f"{retry}{docs}", f"Run `/smtp-enable {target}` to diagnose the mailbox and get a plan."))
    return {"text": _fallback(f"{d['title']}: {d.get('reply') or d['cause']}"), "blocks": blocks}


def usage_text(command: str) -> str:
    """What to type for `command`, with an example; every command's usage when it is not one of ours."""
    return USAGE.get(command) or "\n\n".join(USAGE.values())


def refusal_text(message: str) -> str:
    """An ephemeral refusal; mentions in the bot's own message stay mentions."""
    return f":no_entry: {esc_keeping_mentions(message)}"


def error_blocks(message: str, hint: str = "") -> dict[str, Any]:
    """An expected failure: what went wrong and, when known, what to do about it."""
    blocks = [section(f":x: {md(message, 2500)}")]
    if hint:
        blocks.append(context(md(hint, 2000)))
    return {"text": _fallback(message), "blocks": blocks}


def probe_result_blocks(result: dict[str, Any], explanation: dict[str, Any] | None, *, now: datetime) -> dict[str, Any]:
    """`/smtp-probe`: how an on-demand probe went, and for a failure what the reply means and what fixes it."""
    name, mailbox = esc(result.get("name") or "probe"), esc(result.get("mailbox", ""))
    timings = result.get("timings_ms") or {}
    tls = f"{result.get('tls_version') or 'no TLS'}" + (
        f", certificate {result['cert_days_left']} days left" if result.get("cert_days_left") is not None else "")
    facts = context(f"{esc(result.get('host'))}:{result.get('port')} · {tls} · auth {result.get('auth_mode') or '-'}"
                    f" · {round(float(result.get('duration_ms') or 0))} ms",
                    " ".join(f"{esc(k)} {v:.0f}" for k, v in timings.items()))
    if result.get("ok"):
        blocks = [section(f":white_check_mark: *{name}* ({mailbox}): SMTP AUTH works."), facts]
        return {"text": _fallback(f"{result.get('name')}: SMTP AUTH works"), "blocks": blocks}
    reply = (result.get("reply") or {}).get("raw") or result.get("message") or ""
    blocks = [section(f":x: *{name}* ({mailbox}) failed in `{esc(result.get('phase'))}`: "
                      f"`{esc(result.get('cause'))}`\n{md(reply, 1200)}"), facts]
    if explanation and explanation.get("cause") not in (None, "unclassified"):
        blocks.append(section(f"*What it means:* {md(explanation['explanation'], 1200)}"))
        blocks.append(section(f"*What to do:* {md(explanation['advice'], 1200)}"))
    blocks.append(context(f"Run `/smtp-enable {mailbox}` to diagnose the mailbox and get a plan."))
    return {"text": _fallback(f"{result.get('name')}: {result.get('cause')}"), "blocks": blocks}
