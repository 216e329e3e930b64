"""Slash commands: parse and ack at once (usage errors in the ack), then do the slow part on the pool."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.diagnosis import explain
from bot.errors import BotError, InvalidInput
from bot.history import basic_auth_summary, target_statuses
from bot.probing import find_target
from bot.runtime import Runtime
from bot.slack import blocks
from handlers.facts import normalize_upn

log = logging.getLogger(__name__)
ENABLE_FLAGS = {"--org": "include_org", "--oauth": "oauth"}


def parse_enable(text: str) -> tuple[str, bool, str]:
    """`UPN [--org] [--oauth]` -> (upn, include_org, auth_mode); InvalidInput says what to type."""
    words = (text or "").split()
    flags = [w.lower() for w in words if w.startswith("--")]
    names = [w for w in words if not w.startswith("--")]
    unknown = [f for f in flags if f not in ENABLE_FLAGS]
    if len(names) != 1 or unknown:
        raise InvalidInput(blocks.usage_text("/smtp-enable"))
    return normalize_upn(names[0]), "--org" in flags, "oauth" if "--oauth" in flags else "basic"


def ephemeral(respond: Callable[..., Any], text: str, extra: dict[str, Any] | None = None) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False, **(extra or {}))


def register(app: App, runtime: Runtime) -> None:
    @app.command("/smtp-enable")
    def smtp_enable(ack: Callable[..., Any], command: dict[str, Any], respond: Callable[..., Any]) -> None:
        try:
            upn, include_org, auth_mode = parse_enable(command.get("text", ""))
        except InvalidInput as exc:
            ack(text=exc.describe())
            return
        ack(text=f"Diagnosing SMTP AUTH for {upn}... the plan will appear in this channel.")
        runtime.submit(open_request, runtime, upn, str(command.get("user_id", "")),
                       str(command.get("channel_id", "")), include_org, auth_mode, respond,
                       command.get("trigger_id"))

    @app.command("/smtp-explain")
    def smtp_explain(ack: Callable[..., Any], command: dict[str, Any]) -> None:
        text = (command.get("text") or "").strip()
        if not text:
            ack(text=blocks.usage_text("/smtp-explain"))
            return
        card = blocks.explain_blocks(explain(text[:4000]))
        ack(text=card["text"], blocks=card["blocks"])

    @app.command("/smtp-probe")
    def smtp_probe(ack: Callable[..., Any], command: dict[str, Any], respond: Callable[..., Any]) -> None:
        wanted = (command.get("text") or "").strip()
        targets = runtime.cfg.probes.targets
        target = find_target(targets, wanted) if wanted else None
        if target is None:
            known = ", ".join(t.name for t in targets) or "none are configured (probes.targets in app.yaml)"
            prefix = f"No probe target '{blocks.esc(wanted[:80])}'. " if wanted else ""
            ack(text=f"{prefix}{blocks.usage_text('/smtp-probe')}\nTargets: {known}")
            return
        ack(text=f"Probing {target.name} ({target.mailbox})...")
        runtime.submit(probe_and_answer, runtime, target, respond)

    @app.command("/smtp-status")
    def smtp_status(ack: Callable[..., Any], command: dict[str, Any], respond: Callable[..., Any]) -> None:
        words = (command.get("text") or "").split()
        if len(words) > 1:
            ack(text=blocks.usage_text("/smtp-status"))
            return
        if words and words[0].lower() == "chart":
            ack(text="Drawing the probe history chart...")
            runtime.submit(send_chart, runtime, str(command.get("channel_id", "")), str(command.get("user_id", "")),
                           respond)
            return
        try:
            upn = normalize_upn(words[0]) if words else None
        except InvalidInput as exc:
            ack(text=exc.describe())
            return
        ack()
        runtime.submit(send_status, runtime, upn, respond)


def open_request(runtime: Runtime, upn: str, user: str, channel: str, include_org: bool, auth_mode: str,
                 respond: Callable[..., Any], trigger_id: str | None = None) -> None:
    if not runtime.once(trigger_id):
        log.info("command %s was delivered again; the first delivery is handled", trigger_id)
        return
    try:
        view = runtime.workflow.open_request(upn, user, channel, auth_mode=auth_mode, include_org=include_org)
    except BotError as exc:
        ephemeral(respond, exc.describe())
        return
    except Exception:
        log.exception("could not open a request for %s", upn)
        ephemeral(respond, "Sorry, the diagnosis failed unexpectedly; the details are in the bot's log.")
        return
    runtime.cards.refresh(view.request.id)


def probe_and_answer(runtime: Runtime, target: Any, respond: Callable[..., Any]) -> None:
    answer_probe(runtime, runtime.probe_now(target), respond)


def answer_probe(runtime: Runtime, result: Any, respond: Callable[..., Any]) -> None:
    reply = result.reply.raw if result.reply else ""
    card = blocks.probe_result_blocks(result.to_dict(), explain(reply) if reply else None, now=runtime.clock.now())
    ephemeral(respond, card["text"], {"blocks": card["blocks"]})


def send_status(runtime: Runtime, upn: str | None, respond: Callable[..., Any]) -> None:
    views = runtime.workflow.requests_for(upn)
    statuses = target_statuses(runtime.store, runtime.cfg.probes.targets, runtime.clock.now())
    card = blocks.status_blocks(views, probe_summaries(runtime, upn, statuses), now=runtime.clock.now(), upn=upn,
                                basic_auth=basic_auth_summary(statuses, runtime.clock.now()) if statuses else None)
    ephemeral(respond, card["text"], {"blocks": card["blocks"]})


def send_chart(runtime: Runtime, channel: str, user: str, respond: Callable[..., Any]) -> None:
    """`/smtp-status chart`: a PNG of the last 7 days per target, uploaded to the channel."""
    from bot.chart import availability_chart  # matplotlib loads only when a chart is asked for

    targets = runtime.cfg.probes.targets
    if not targets:
        ephemeral(respond, "No probe targets are configured (probes.targets in app.yaml), so there is no chart.")
        return
    png = availability_chart(runtime.store, targets, runtime.clock.now())
    runtime.slack.files_upload_v2(channel=channel, content=png, filename="smtp-auth-availability.png",
                                  title="SMTP AUTH probes: availability and latency, last 7 days",
                                  initial_comment=f"SMTP AUTH probe history, asked for by <@{user}>.")


def probe_summaries(runtime: Runtime, upn: str | None, statuses: list[Any] | None = None) -> list[dict[str, Any]]:
    """Each configured target's state, availability and last result (only `upn`'s when given)."""
    if statuses is None:
        statuses = target_statuses(runtime.store, runtime.cfg.probes.targets, runtime.clock.now())
    return [s.to_dict() for s in statuses if not upn or s.mailbox.lower() == upn]
