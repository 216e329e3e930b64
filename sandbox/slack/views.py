"""The App Home tab in the Slack stand-in: views.publish, checked as Slack checks a home view."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from sandbox.slack.blocks import MAX_VIEW_BLOCKS, block_errors, error_messages, json_arg, with_ids
from sandbox.slack.identity import APP_ID, BOT_ID, TEAM_ID
from sandbox.slack.records import SlackError
from sandbox.slack.workspace import Workspace


def views_publish(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user, view = args.get("user_id"), json_arg(args, "view")
    if not user or not isinstance(view, dict):
        raise SlackError("invalid_arguments", errors=["user_id and view are required"])
    if user not in ws.users:
        raise SlackError("user_not_found")
    errors = [] if view.get("type") == "home" else ["must be 'home' [json-pointer:/view/type]"]
    errors += block_errors(view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS, pointer="/view/blocks")
    if errors:
        raise SlackError("invalid_arguments", errors=errors, response_metadata=error_messages(errors))
    previous = ws.homes.get(user)
    published = {
        "id": previous["id"] if previous else ws.next_id("V"),
        "team_id": TEAM_ID,
        "app_id": APP_ID,
        "bot_id": BOT_ID,
        "type": "home",
        "blocks": with_ids(view["blocks"]),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "external_id": view.get("external_id", ""),
        "hash": secrets.token_hex(8),
    }
    ws.homes[user] = published
    return {"ok": True, "view": copy.deepcopy(published)}
