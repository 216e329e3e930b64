"""App Home: what waits for the viewer's approval, recent requests, and the probe summary."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.runtime import Runtime
from bot.slack import blocks
from bot.slack.commands import probe_summaries
from bot.workflow.service import RequestView

log = logging.getLogger(__name__)


def home_for(runtime: Runtime, user: str) -> dict[str, Any]:
    store, flow = runtime.store, runtime.workflow
    is_approver = flow.policy.is_approver(user, flow.members)
    open_views = [RequestView(r, store.get_steps(r.id)) for r in store.list_requests(state="planned", limit=50)]
    pending = [v for v in open_views if any(s.state in ("pending", "revert_pending") for s in v.steps)
               and (is_approver or v.request.requester == user)]
    recent = [RequestView(r, store.get_steps(r.id)) for r in store.list_requests(limit=10)]
    return blocks.home_view(viewer=user, pending=pending, recent=recent, probes=probe_summaries(runtime, None),
                            is_approver=is_approver, now=runtime.clock.now(),
                            allow_self_approval=flow.policy.allow_self_approval)


def register(app: App, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    def app_home_opened(event: dict[str, Any], client: Any) -> None:
        user = event.get("user")
        if not isinstance(user, str) or event.get("tab", "home") != "home":
            return
        runtime.submit(lambda: client.views_publish(user_id=user, view=home_for(runtime, user)))
