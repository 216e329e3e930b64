"""`/smtp-status` and the App Home tab: requests with each step's state, and the probe targets. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.slack.blocks.kit import (
    LIST_LIMIT,
    MAX_BLOCKS,
    MAX_CHARS,
    MAX_VIEW_BLOCKS,
    VIEW_CHARS,
    Block,
    Budget,
    context,
    divider,
    fallback,
    header,
    listed,
    section,
)
from bot.slack.blocks.mrkdwn import clip, esc, esc_keeping_mentions, local_time, md, who
from bot.slack.blocks.plan import controls, controls_block, is_open, request_summary
from bot.workflow.model import AUTH_MODE_WORDS, ChangeRequest, RequestStep, RequestView, StepState

S = StepState

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
        parts.append(local_time(probe["at"]))
    if probe.get("latency_ms") is not None:
        parts.append(f"{probe['latency_ms']} ms")
    if "availability_24h" in probe or "availability_7d" in probe:
        parts.append(f"availability 24 h / 7 d: {_percent(probe.get('availability_24h'))} / "
                     f"{_percent(probe.get('availability_7d'))}")
    if probe.get("cert_days_left") is not None:
        parts.append(f"certificate expires in {probe['cert_days_left']} days")
    if probe.get("auth_mode"):
        parts.append(AUTH_MODE_WORDS.get(probe["auth_mode"], esc(probe["auth_mode"])))
    line = " · ".join(parts)
    if probe.get("ok") is False and probe.get("reply"):
        line += f"\nReply: {md(' '.join(str(probe['reply']).split()), 300)}"
    return line


def _basic_auth_block(basic_auth: dict[str, Any] | None) -> list[Block]:
    """The Basic-auth retirement note of `bot.history.basic_auth_summary`, when a target still uses Basic."""
    if not basic_auth or not (basic_auth.get("count") or "readiness_basic" in basic_auth):
        return []
    text = md(basic_auth.get("text", ""), 1200)
    last = basic_auth.get("readiness")
    if isinstance(last, dict) and isinstance(last.get("at"), datetime):
        if last.get("read"):
            seen = (f"The last readiness report ({local_time(last['at'])}, {esc(last.get('days'))} days) counted "
                    f"{esc(last.get('basic_in_use'))} account(s) still sending with a password.")
        else:
            seen = (f"The last readiness report ({local_time(last['at'])}) could not read the sign-in logs: usage "
                    f"of {esc(last.get('unknown'))} enabled account(s) is unknown.")
        text = f"{text} {seen} `/smtp-readiness` lists them.".strip()
    return [section(f":hourglass: {text}")]


def status_blocks(requests: list[RequestView], probes: list[dict[str, Any]] | None, *, now: datetime,
                  upn: str | None = None, basic_auth: dict[str, Any] | None = None) -> dict[str, Any]:
    """`/smtp-status [UPN]`: open change requests with each step's state, then the probe targets.

    `probes` are last results or `bot.history.TargetStatus.to_dict()`s (with state and availability);
    `basic_auth` is `bot.history.basic_auth_summary(...)`, shown when a target still uses Basic auth.
    """
    title = f"SMTP AUTH status for {upn}" if upn else "SMTP AUTH status"
    budget = Budget(MAX_BLOCKS - 6, MAX_CHARS - 1000)  # kept back: headers, notes
    blocks = [header(title)]
    if requests:
        blocks += listed([request_summary(v, now) for v in requests], budget, "requests")
    else:
        blocks.append(section("No open change requests."))
    if probes is not None:
        blocks.append(header("Last probe results"))
        blocks += listed([_probe_line(p, now) for p in probes], budget, "probes") or [
            section("No probe results yet.")]
    blocks += _basic_auth_block(basic_auth)
    failing = sum(1 for p in probes or [] if not p.get("ok") and p.get("state") != "unknown")
    notice = f"{len(requests)} open request{'s' if len(requests) != 1 else ''}"
    if probes:
        notice += f", {failing} of {len(probes)} probes failing"
    return {"text": fallback(f"{title}: {notice}"), "blocks": blocks}


def _home_step(request: ChangeRequest, step: RequestStep, now: datetime) -> list[Block]:
    proposed = step.proposed or {}
    status, buttons = controls(request, step, now)
    lines = [f"*{esc(request.upn)}* · {esc(request.id)} · requested by {who(request.requester)} · approve before "
             f"{local_time(request.expires_at)}",
             f"*{md(step.title, 150)}*: {md(proposed.get('current_text', '?'), 150)} → "
             f"{md(proposed.get('proposed_text', '?'), 150)}"]
    if proposed.get("impact"):
        lines.append(f":warning: *Impact:* {md(proposed['impact'], 800)}")
    if status:
        lines.append(status)
    return [section("\n".join(lines)), *controls_block(step, buttons)]


#: The most characters of a notice at the top of App Home (what the viewer's last click there did).
NOTICE_CHARS = 1000


def home_notice(action: str, answer: str, at: datetime) -> list[Block]:
    """What the viewer's click in App Home did: App Home has no response_url, so the answer a click in a channel
    gets as an ephemeral message is shown at the top of the refreshed view. `answer` is the bot's own text (its
    mentions kept); `action` the button's label."""
    text = f":speech_balloon: You clicked *{md(action, 75)}* at {local_time(at)}: {esc_keeping_mentions(answer)}"
    return [section(clip(text, NOTICE_CHARS)), divider()]


def home_view(*, viewer: str, pending: list[RequestView], recent: list[RequestView], probes: list[dict[str, Any]],
              is_approver: bool, now: datetime, allow_self_approval: bool = False,
              notice: list[Block] | None = None) -> dict[str, Any]:
    """The App Home tab (for `views.publish`): what waits for the viewer, recent requests, probe status; first the
    `notice` (`home_notice`) when it answers a click."""
    budget = Budget(MAX_VIEW_BLOCKS - 10, VIEW_CHARS - NOTICE_CHARS)  # kept back: notice, headers, notes, footer
    blocks = [*(notice or []), header("Waiting for your approval")]
    own: list[str] = []
    waiting: list[tuple[ChangeRequest, RequestStep]] = []
    for view in pending:
        request = view.request
        steps = [s for s in view.steps if is_open(request, s, now) or s.state == S.REVERT_PENDING]
        if steps and (not is_approver or (request.requester == viewer and not allow_self_approval)):
            own.append(request_summary(view, now))
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
        blocks += listed(own, budget, "requests")
    blocks.append(header("Recent requests"))
    blocks += listed([request_summary(v, now) for v in recent], budget, "requests") or [
        section("No requests yet.")]
    blocks.append(header("Probe status"))
    blocks += listed([_probe_line(p, now) for p in probes], budget, "probes") or [section("No probe results yet.")]
    blocks.append(context(f"Updated {local_time(now)}"))
    return {"type": "home", "blocks": blocks}

