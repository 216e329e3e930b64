"""App Home: what waits for the viewer's approval, recent requests, and the probe summary, via views.publish."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt import App

from bot.slack import blocks
from bot.slack.services import SlackServices


def home_for(services: SlackServices, user: str, notice: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    flow = services.workflow
    return blocks.home_view(viewer=user, pending=flow.pending_for(user), recent=flow.recent(),
                            probes=services.probe_statuses(), is_approver=flow.is_approver(user),
                            now=services.clock.now(), allow_self_approval=flow.policy.allow_self_approval,
                            notice=notice)


def publish_home(services: SlackServices, client: Any, user: str, notice: list[dict[str, Any]] | None = None) -> None:
    client.views_publish(user_id=user, view=home_for(services, user, notice))


def app_home_opened(services: SlackServices, event: dict[str, Any], client: Any) -> None:
    user = event.get("user")
    if not isinstance(user, str) or event.get("tab", "home") != "home":
        return
    services.submit(publish_home, services, client, user)


def register(app: App, services: SlackServices) -> None:
    app.event("app_home_opened")(partial(app_home_opened, services))
