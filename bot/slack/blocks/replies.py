"""Short answers: `/smtp-explain`, `/smtp-probe`, usage, refusals and expected errors. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.diagnosis import CHECK_LABELS, STEP_LABELS
from bot.slack import ids
from bot.slack.blocks.kit import context, fallback, header, section
from bot.slack.blocks.mrkdwn import clip, esc, esc_keeping_mentions, link, md

USAGE = {
    ids.COMMAND_ENABLE: (
        "Type `/smtp-enable UPN [--org] [--oauth]` to diagnose why SMTP AUTH fails for a mailbox and post a "
        "plan; each change waits for an approver. A probe target's name works as its mailbox.\n`--org` proposes the organisation-wide switch instead of the "
        "mailbox's own; `--oauth` checks for OAuth (XOAUTH2) instead of a password.\n"
        "Example: `/smtp-enable scanner@contoso.com`"
    ),
    ids.COMMAND_STATUS: (
        "Type `/smtp-status [UPN|TARGET]` to see open change requests and the last probe results, for one "
        "mailbox (or probe target) or for all, or `/smtp-status chart` for a chart of the last 7 days.\n"
        "Example: `/smtp-status scanner@contoso.com`"
    ),
    ids.COMMAND_EXPLAIN: (
        "Type `/smtp-explain REPLY`, pasting the SMTP error your device or app got, to learn what it means "
        "and what fixes it.\nExample: `/smtp-explain 535 5.7.139 Authentication unsuccessful, "
        "SmtpClientAuthentication is disabled for the Tenant.`"
    ),
    ids.COMMAND_OAUTH: (
        "Type `/smtp-oauth MAILBOX --app APP_ID [--full-access]` to move a device or app to OAuth (XOAUTH2): the "
        "bot checks the app in Entra ID and Exchange and posts a plan (register its service principal in "
        "Exchange, give it this mailbox, turn the mailbox's SMTP AUTH on), each step approved on its own and "
        "undoable. By default the app gets a role scoped to this one mailbox; `--full-access` uses FullAccess "
        "with admin consent for SMTP.SendAsApp instead (every mailbox it is given, and their content).\n"
        "Example: `/smtp-oauth scanner@contoso.com --app 3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809`"
    ),
    ids.COMMAND_PROBE: (
        "Type `/smtp-probe TARGET` to run a configured SMTP probe now, named by its target name or its "
        "mailbox, and see how it went.\n"
        "Example: `/smtp-probe scanner`"
    ),
    ids.COMMAND_READINESS: (
        "Type `/smtp-readiness [--days N]` for the tenant's readiness for the end of Basic auth (off by default at "
        "the end of December 2026): who sends with a password in the last N days (1-30, default 30), who could, who "
        "uses OAuth, and the path for each; the full list comes as a CSV.\nExample: `/smtp-readiness --days 7`"
    ),
}


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
    return {"text": fallback(f"{d['title']}: {d.get('reply') or d['cause']}"), "blocks": blocks}


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
    return {"text": fallback(message), "blocks": blocks}


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
        return {"text": fallback(f"{result.get('name')}: SMTP AUTH works"), "blocks": blocks}
    reply = (result.get("reply") or {}).get("raw") or result.get("message") or ""
    blocks = [section(f":x: *{name}* ({mailbox}) failed in `{esc(result.get('phase'))}`: "
                      f"`{esc(result.get('cause'))}`\n{md(reply, 1200)}"), facts]
    if explanation and explanation.get("cause") not in (None, "unclassified"):
        blocks.append(section(f"*What it means:* {md(explanation['explanation'], 1200)}"))
        blocks.append(section(f"*What to do:* {md(explanation['advice'], 1200)}"))
    blocks.append(context(f"Run `/smtp-enable {mailbox}` to diagnose the mailbox and get a plan."))
    return {"text": fallback(f"{result.get('name')}: {result.get('cause')}"), "blocks": blocks}

