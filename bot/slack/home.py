"""App Home: what waits for the viewer's approval, recent requests, and the probe summary."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.runtime import Runtime
from bot.slack import blocks
from bot.slack.commands import probe_summaries

log = logging.getLogger(__name__)


def home_for(runtime: Runtime, user: str) -> dict[str, Any]:
    flow = runtime.workflow
    return blocks.home_view(viewer=user, pending=flow.pending_for(user), recent=flow.recent(),
                            probes=probe_summaries(runtime, None), is_approver=flow.is_approver(user),
                            now=runtime.clock.now(), allow_self_approval=flow.policy.allow_self_approval)


def register(app: App, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    def app_home_opened(event: dict[str, Any], client: Any) -> None:
        user = event.get("user")
        if not isinstance(user, str) or event.get("tab", "home") != "home":
            return
        runtime.submit(lambda: client.views_publish(user_id=user, view=home_for(runtime, user)))
