"""Who and where in the Slack stand-in: auth.test, users.info, conversations.info, usergroups.users.list."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.slack.identity import BOT_ID, BOT_NAME, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, TEAM_NAME
from sandbox.slack.records import SlackError
from sandbox.slack.workspace import Workspace


def auth_test(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": TEAM_NAME,
        "user": BOT_NAME,
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def usergroup_users(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    group = args.get("usergroup")
    if not group:
        raise SlackError("invalid_arguments", errors=["missing required field: usergroup"])
    if group not in ws.usergroups:
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(ws.usergroups[group])}


def users_info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = args.get("user")
    if not user:
        raise SlackError("invalid_arguments", errors=["missing required field: user"])
    if user not in ws.users:
        raise SlackError("user_not_found")
    return {"ok": True, "user": copy.deepcopy(ws.users[user])}


def conversations_info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = args.get("channel")
    needed = "groups:read" if str(channel).startswith("G") else "channels:read"
    if needed not in ws.scopes:  # as Slack: the channel's kind decides the scope, checked before it is looked up
        raise SlackError("missing_scope", needed=needed, provided=",".join(ws.scopes))
    if channel not in ws.channels:
        raise SlackError("channel_not_found")
    return {"ok": True, "channel": copy.deepcopy(ws.channels[channel])}
