"""File uploads to the Slack stand-in: getUploadURLExternal, the upload URL, completeUploadExternal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.slack.blocks import json_arg
from sandbox.slack.identity import BOT_USER_ID, TEAM_DOMAIN, TEAM_ID
from sandbox.slack.records import SlackError, SlackFile
from sandbox.slack.workspace import Workspace


def _require_files_write(ws: Workspace) -> None:
    """Both upload methods need the bot scope files:write (api.slack.com/methods/files.getUploadURLExternal,
    files.completeUploadExternal), checked before the arguments, as Slack does."""
    if "files:write" not in ws.scopes:
        raise SlackError("missing_scope", needed="files:write", provided=",".join(ws.scopes))


def get_upload_url(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    _require_files_write(ws)
    filename, length = args.get("filename"), str(args.get("length", ""))
    if not filename or not length.isdigit():
        raise SlackError("invalid_arguments", errors=["filename and length are required"])
    file_id = ws.next_id("F")
    ws.files[file_id] = SlackFile(file_id, filename, int(length))
    return {"ok": True, "upload_url": f"{ws.base_url()}/upload/{file_id}", "file_id": file_id}


def complete_upload(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    _require_files_write(ws)
    items = json_arg(args, "files")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise SlackError("invalid_arguments", errors=["files must be a non-empty JSON array"])
    wanted = [c for c in [args.get("channel_id"), *str(args.get("channels") or "").split(",")] if c]
    channels = tuple(ws.resolve_channel(c) for c in wanted)
    done = []
    for item in items:
        stored = ws.files.get(item.get("id", ""))
        if stored is None or stored.data is None:
            raise SlackError("file_not_found")
        done.append(stored)
    answers = []
    for stored in done:
        finished = SlackFile(
            stored.id,
            stored.filename,
            stored.length,
            stored.data,
            next((i.get("title") for i in items if i.get("id") == stored.id), None) or stored.filename,
            channels,
            args.get("initial_comment"),
            args.get("thread_ts"),
            True,
        )
        ws.files[stored.id] = finished
        answers.append(_file_info(finished, ws.clock.now()))
    return {"ok": True, "files": answers}


def upload(ws: Workspace, file_id: str, data: bytes) -> tuple[int, str]:
    stored = ws.files.get(file_id)
    if stored is None:
        return 404, "file_not_found"
    ws.files[file_id] = SlackFile(stored.id, stored.filename, stored.length, data)
    return 200, f"OK - {len(data)}"


def _file_info(stored: SlackFile, now: datetime) -> dict[str, Any]:
    return {
        "id": stored.id,
        "created": int(now.timestamp()),
        "timestamp": int(now.timestamp()),
        "name": stored.filename,
        "title": stored.title,
        "mimetype": "",
        "filetype": "",
        "user": BOT_USER_ID,
        "user_team": TEAM_ID,
        "size": len(stored.data or b""),
        "is_external": False,
        "is_public": True,
        "url_private": f"https://files.slack.com/files-pri/{TEAM_ID}-{stored.id}/{stored.filename}",
        "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{BOT_USER_ID}/{stored.id}/{stored.filename}",
        "channels": list(stored.channels),
    }
