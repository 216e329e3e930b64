"""`/smtp-probe TARGET`: ack at once, probe the configured target on the pool, and answer how it went."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt import App

from bot.diagnosis import explain
from bot.probe import ProbeResult
from bot.probe.runner import find_target
from bot.slack import blocks, ids
from bot.slack.listeners.common import Ack, Respond, ephemeral, wants_help
from bot.slack.services import SlackServices


def smtp_probe(services: SlackServices, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
    text = command.get("text") or ""
    wanted = "" if wants_help(text) else text.strip()
    targets = services.probe_targets
    target = find_target(targets, wanted) if wanted else None
    if target is None:
        known = ", ".join(t.name for t in targets) or "none are configured (probes.targets in app.yaml)"
        prefix = f"No probe target '{blocks.esc(wanted[:80])}'. " if wanted else ""
        ack(text=f"{prefix}{blocks.usage_text(ids.COMMAND_PROBE)}\nTargets: {known}")
        return
    ack(text=f"Probing {target.name} ({target.mailbox})...")
    services.submit(probe_and_answer, services, target, respond)


def probe_and_answer(services: SlackServices, target: Any, respond: Respond) -> None:
    answer_probe(services, services.probe_now(target), respond)


def answer_probe(services: SlackServices, result: ProbeResult, respond: Respond) -> None:
    """The probe's outcome, and for a failure what the server's reply means, as an ephemeral reply."""
    reply = result.reply.raw if result.reply else ""
    card = blocks.probe_result_blocks(result.to_dict(), explain(reply) if reply else None, now=services.clock.now())
    ephemeral(respond, card["text"], {"blocks": card["blocks"]})


def register(app: App, services: SlackServices) -> None:
    app.command(ids.COMMAND_PROBE)(partial(smtp_probe, services))
