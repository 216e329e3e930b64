"""Messages in the Slack stand-in: chat.postMessage, chat.update, ephemerals, permalinks, response URLs."""

from __future__ import annotations

import copy
import secrets
from datetime import timedelta
from typing import Any

from sandbox.slack.blocks import content
from sandbox.slack.identity import TEAM_DOMAIN
from sandbox.slack.records import ResponsePost, ResponseUrl, SlackError, StoredMessage
from sandbox.slack.workspace import Workspace

RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME = timedelta(minutes=30)


def post_message(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.resolve_channel(args.get("channel"))
    text, blocks = content(args)
    thread_ts = args.get("thread_ts") or None
    message = ws.post(channel, text, blocks or [], "chat.postMessage", thread_ts=thread_ts)
    return {"ok": True, "channel": channel, "ts": message.ts, "message": message.snapshot().payload()}


def update(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.resolve_channel(args.get("channel"))
    message = ws.stored(channel, args.get("ts"))
    text, blocks = content(args)
    ws.edit(message, text, message.versions[-1].blocks if blocks is None else blocks, "chat.update")
    return {
        "ok": True,
        "channel": channel,
        "ts": message.ts,
        "text": text,
        "message": message.snapshot().payload(),
    }


def post_ephemeral(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.resolve_channel(args.get("channel"))
    user = args.get("user")
    if not user:
        raise SlackError("invalid_arguments", errors=["missing required field: user"])
    if user not in ws.users:
        raise SlackError("user_not_in_channel")
    text, blocks = content(args)
    message = ws.post(
        channel,
        text,
        blocks or [],
        "chat.postEphemeral",
        visible_to=user,
        thread_ts=args.get("thread_ts"),
    )
    return {"ok": True, "message_ts": message.ts}


def get_permalink(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.resolve_channel(args.get("channel"))
    message = ws.stored(channel, args.get("message_ts"))
    return {"ok": True, "channel": channel, "permalink": _permalink(channel, message.ts)}


def _permalink(channel: str, ts: str) -> str:
    return f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"


def new_response_url(ws: Workspace, channel: str, user: str, message_ts: str | None, ephemeral: bool) -> str:
    response_id = f"{len(ws.response_urls) + 1}-{secrets.token_urlsafe(8)}"
    ws.response_urls[response_id] = ResponseUrl(channel, user, message_ts, ephemeral, ws.clock.now())
    return f"{ws.base_url()}/response/{response_id}"


def respond(ws: Workspace, response_id: str, payload: Any) -> tuple[int, dict[str, Any]]:
    """Apply a response_url POST (replace, delete, post in channel, or ephemeral) like Slack does."""
    target = ws.response_urls.get(response_id)
    now = ws.clock.now()
    if target is None or now - target.created > RESPONSE_URL_LIFETIME:
        error, status = "expired_url", 404
    elif target.uses >= RESPONSE_URL_USES:
        error, status = "used_url", 404
    elif not isinstance(payload, dict):
        error, status = "invalid_payload", 400
    else:
        target.uses += 1
        try:
            effect, ts = apply_response(ws, target, payload)
        except SlackError as exc:
            body = exc.body()
            record_response(ws, response_id, payload, 400, exc.error, target, None)
            return 400, body
        record_response(ws, response_id, payload, 200, effect, target, ts)
        return 200, {"ok": True}
    if target is not None:
        record_response(ws, response_id, payload, status, error, target, None)
    return status, {"ok": False, "error": error}


def apply_response(ws: Workspace, target: ResponseUrl, payload: dict[str, Any]) -> tuple[str, str | None]:
    original = response_target(ws, target)
    if _flag(payload.get("delete_original")):
        if original is None:
            raise SlackError("message_not_found")
        original.deleted = True
        return "deleted", original.ts
    text, blocks = content(payload)
    if _flag(payload.get("replace_original")) and original is not None:
        ws.edit(original, text, blocks or [], "response_url")
        return "replaced", original.ts
    in_channel = payload.get("response_type") == "in_channel"
    visible_to = None if in_channel else target.user
    message = ws.post(target.channel, text, blocks or [], "response_url", visible_to=visible_to)
    if target.message_ts is None:
        # A command's response URL: later replace_original/delete_original act on this first reply.
        target.message_ts, target.ephemeral = message.ts, not in_channel
    return ("posted" if in_channel else "ephemeral"), message.ts


def response_target(ws: Workspace, target: ResponseUrl) -> StoredMessage | None:
    if target.message_ts is None:
        return None
    if target.ephemeral:
        return next((m for m in ws.ephemerals if m.ts == target.message_ts and not m.deleted), None)
    message = ws.messages.get(target.channel, {}).get(target.message_ts)
    return None if message is None or message.deleted else message


def record_response(
    ws: Workspace, response_id: str, payload: Any, status: int, effect: str, target: ResponseUrl, ts: str | None
) -> None:
    ws.responses.append(
        ResponsePost(
            response_id,
            copy.deepcopy(payload) if isinstance(payload, dict) else {"raw": payload},
            status,
            effect,
            target.channel,
            ts,
            target.user,
            ws.clock.now(),
        )
    )


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))
