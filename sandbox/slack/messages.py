"""Messages in the Slack stand-in: chat.postMessage (with metadata), chat.update, ephemerals, permalinks,
conversations.history and .replies, response URLs."""

from __future__ import annotations

import base64
import copy
import json
import secrets
from datetime import timedelta
from typing import Any

from sandbox.slack.blocks import content
from sandbox.slack.identity import TEAM_DOMAIN
from sandbox.slack.records import ResponsePost, ResponseUrl, SlackError, StoredMessage
from sandbox.slack.workspace import Workspace

RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME = timedelta(minutes=30)
HISTORY_LIMIT = 100  # conversations.history's default page, at most HISTORY_MAX_LIMIT
HISTORY_MAX_LIMIT = 999
REPLIES_MAX_LIMIT = 1000  # conversations.replies' default page, and its largest


def post_message(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.resolve_channel(args.get("channel"))
    text, blocks = content(args)
    thread_ts = args.get("thread_ts") or None
    metadata = message_metadata(args.get("metadata"))
    message = ws.post(channel, text, blocks or [], "chat.postMessage", thread_ts=thread_ts, metadata=metadata)
    return {"ok": True, "channel": channel, "ts": message.ts, "message": message.snapshot().payload()}


def message_metadata(value: Any) -> dict[str, Any] | None:
    """`metadata` as Slack takes it (an object, or its JSON in a form field): `event_type` a string and
    `event_payload` an object, else `invalid_metadata_format`."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SlackError("invalid_metadata_format") from None
    if (not isinstance(value, dict) or not isinstance(value.get("event_type"), str) or not value["event_type"]
            or not isinstance(value.get("event_payload"), dict)):
        raise SlackError("invalid_metadata_format")
    return {"event_type": value["event_type"], "event_payload": copy.deepcopy(value["event_payload"])}


def _readable(ws: Workspace, channel: Any) -> None:
    """The checks conversations.history and .replies share: the channel's kind decides the scope (checked before
    the channel is looked up, as Slack does), then `channel_not_found` and `not_in_channel`."""
    if not channel:
        raise SlackError("invalid_arguments", errors=["missing required field: channel"])
    info = ws.channels.get(channel, {})
    if str(channel).startswith("D") or info.get("is_im"):
        needed = "im:history"
    elif str(channel).startswith("G") or info.get("is_private"):
        needed = "groups:history"
    else:
        needed = "channels:history"
    if needed not in ws.scopes:  # as Slack: the channel's kind decides the scope, checked before it is looked up
        raise SlackError("missing_scope", needed=needed, provided=",".join(ws.scopes))
    if channel not in ws.channels:
        raise SlackError("channel_not_found")
    if not info.get("is_member", True):
        raise SlackError("not_in_channel")


def history(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """conversations.history: the channel's top-level messages newest first, `oldest` < ts < `latest`
    (`inclusive` takes the bounds), `limit` per page with a cursor; metadata only with `include_all_metadata`."""
    channel = args.get("channel")
    _readable(ws, channel)
    try:
        limit = int(args.get("limit") or HISTORY_LIMIT)
        oldest = float(args.get("oldest") or 0)
        latest = float(args["latest"]) if args.get("latest") else None
        start = int(base64.b64decode(args["cursor"]).decode().removeprefix("next_ts:")) if args.get("cursor") else 0
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None
    limit = max(1, min(limit, HISTORY_MAX_LIMIT))
    inclusive = _flag(args.get("inclusive"))

    def within(ts: float) -> bool:
        above = ts >= oldest if inclusive else ts > oldest
        below = latest is None or (ts <= latest if inclusive else ts < latest)
        return above and below

    found = [m for m in ws.messages.get(channel, {}).values()
             if not m.deleted and m.thread_ts in (None, m.ts) and within(float(m.ts))]
    found.sort(key=lambda m: float(m.ts), reverse=True)
    page = found[start:start + limit]
    with_metadata = _flag(args.get("include_all_metadata"))
    answer: dict[str, Any] = {
        "ok": True,
        "messages": [m.snapshot().payload(metadata=with_metadata) for m in page],
        "has_more": start + limit < len(found),
        "pin_count": 0,
    }
    if answer["has_more"]:
        cursor = base64.b64encode(f"next_ts:{start + limit}".encode()).decode()
        answer["response_metadata"] = {"next_cursor": cursor}
    return answer


def replies(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """conversations.replies: a thread, its parent first then the replies oldest first (only the message itself
    when `ts` has no replies), `limit` per page (default and most 1000) with a cursor; metadata only with
    `include_all_metadata`. `ts` must be an existing message's, else `thread_not_found`."""
    channel = args.get("channel")
    _readable(ws, channel)
    ts = args.get("ts")
    if not ts:
        raise SlackError("invalid_arguments", errors=["missing required field: ts"])
    parent = ws.messages.get(channel, {}).get(ts)
    if parent is None or parent.deleted:
        raise SlackError("thread_not_found")
    root = parent.thread_ts or parent.ts  # a reply's ts fetches its whole thread, as Slack does
    try:
        limit = max(1, min(int(args.get("limit") or REPLIES_MAX_LIMIT), REPLIES_MAX_LIMIT))
        start = int(base64.b64decode(args["cursor"]).decode().removeprefix("next_ts:")) if args.get("cursor") else 0
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None
    thread = [m for m in ws.messages[channel].values() if not m.deleted and (m.ts == root or m.thread_ts == root)]
    thread.sort(key=lambda m: (m.ts != root, float(m.ts)))
    page = thread[start:start + limit]
    with_metadata = _flag(args.get("include_all_metadata"))
    answer: dict[str, Any] = {"ok": True, "messages": [m.snapshot().payload(metadata=with_metadata) for m in page],
                              "has_more": start + limit < len(thread)}
    if answer["has_more"]:
        answer["response_metadata"] = {"next_cursor": base64.b64encode(f"next_ts:{start + limit}".encode()).decode()}
    return answer


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
    return {"ok": True, "channel": channel, "permalink": _permalink(channel, message.ts, message.thread_ts)}


def _permalink(channel: str, ts: str, thread_ts: str | None = None) -> str:
    """As Slack forms it; a reply's carries its thread (`?thread_ts=...&cid=...`)."""
    link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    return f"{link}?thread_ts={thread_ts}&cid={channel}" if thread_ts and thread_ts != ts else link


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
