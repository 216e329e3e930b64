"""Block Kit and message content as Slack checks them: limits, required fields, ids stamped on blocks."""

from __future__ import annotations

import copy
import json
import secrets
import string
from collections.abc import Iterable
from typing import Any

from sandbox.slack.records import SlackError

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000
MAX_BLOCK_CHARS = 13_000  # approximate: Slack answers msg_blocks_too_long from about this much block text
BLOCK_TYPES = frozenset(
    {
        "section",
        "header",
        "actions",
        "context",
        "divider",
        "image",
        "input",
        "rich_text",
        "file",
        "video",
        "markdown",
    }
)
_ID_CHARS = string.ascii_letters + string.digits


def content(args: dict[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
    """Text and (validated, id-stamped) blocks of a message; blocks None when the call gave none."""
    text = args.get("text") or ""
    blocks = json_arg(args, "blocks")
    if not isinstance(text, str):
        raise SlackError("invalid_arguments", errors=["text must be a string"])
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    if blocks is not None:
        errors = block_errors(blocks)
        if errors:
            raise SlackError("invalid_blocks", errors=errors, response_metadata=error_messages(errors))
        if text_chars(blocks) > MAX_BLOCK_CHARS:
            raise SlackError("msg_blocks_too_long")
        blocks = with_ids(blocks)
    if not text and not blocks and not json_arg(args, "attachments"):
        raise SlackError("no_text")
    return text, blocks


def block_errors(blocks: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS, pointer: str = "/blocks") -> list[str]:
    """Slack-style error strings for the Block Kit limits this stand-in checks; empty when the blocks pass."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"no more than {max_blocks} items allowed [json-pointer:{pointer}]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            _limit(errors, block_id, 255, f"{where}/block_id")
            if block_id in block_ids:
                errors.append(f"duplicate block_id {block_id!r} [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        errors.extend(_block_type_errors(block, where))
    return errors


def _block_type_errors(block: dict[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    kind = block["type"]
    if kind not in BLOCK_TYPES:
        errors.append(f"unsupported block type {kind!r} [json-pointer:{where}/type]")
    elif kind == "section":
        if block.get("text") is None and not block.get("fields"):
            errors.append(f"must provide either text or fields [json-pointer:{where}]")
        if block.get("text") is not None:
            _text(errors, block["text"], 3000, f"{where}/text")
        fields = block.get("fields") or []
        if len(fields) > 10:
            errors.append(f"no more than 10 items allowed [json-pointer:{where}/fields]")
        for i, item in enumerate(fields):
            _text(errors, item, 2000, f"{where}/fields/{i}")
        if block.get("accessory") is not None:
            _element(errors, block["accessory"], f"{where}/accessory")
    elif kind == "header":
        _text(errors, block.get("text"), 150, f"{where}/text", plain_only=True)
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            errors.append(f"must provide at least 1 element [json-pointer:{where}/elements]")
            return errors
        if len(elements) > 25:
            errors.append(f"no more than 25 items allowed [json-pointer:{where}/elements]")
        action_ids: set[str] = set()
        for i, element in enumerate(elements):
            _element(errors, element, f"{where}/elements/{i}")
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id is not None and action_id in action_ids:
                errors.append(f"duplicate action_id {action_id!r} [json-pointer:{where}/elements/{i}]")
            action_ids.add(action_id)
    elif kind == "context" and len(block.get("elements") or []) > 10:
        errors.append(f"no more than 10 items allowed [json-pointer:{where}/elements]")
    return errors


def _element(errors: list[str], element: Any, where: str) -> None:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        errors.append(f"missing required field: type [json-pointer:{where}]")
        return
    if element.get("action_id") is not None:
        _limit(errors, element["action_id"], 255, f"{where}/action_id")
    if element["type"] != "button":
        return
    _text(errors, element.get("text"), 75, f"{where}/text", plain_only=True)
    if element.get("value") is not None:
        _limit(errors, element["value"], 2000, f"{where}/value")
    if element.get("url") is not None:
        _limit(errors, element["url"], 3000, f"{where}/url")
    if element.get("style") not in (None, "primary", "danger"):
        errors.append(f"must be one of primary, danger [json-pointer:{where}/style]")
    confirm = element.get("confirm")
    if confirm is not None:
        if not isinstance(confirm, dict):
            errors.append(f"must be an object [json-pointer:{where}/confirm]")
            return
        for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
            _text(errors, confirm.get(key), limit, f"{where}/confirm/{key}", plain_only=key != "text")


def _text(errors: list[str], obj: Any, limit: int, where: str, *, plain_only: bool = False) -> None:
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if not isinstance(obj, dict) or obj.get("type") not in allowed:
        errors.append(f"must be a text object of type {' or '.join(allowed)} [json-pointer:{where}]")
    elif not isinstance(obj.get("text"), str) or not obj["text"]:
        errors.append(f"must be a non-empty string [json-pointer:{where}/text]")
    else:
        _limit(errors, obj["text"], limit, f"{where}/text")


def _limit(errors: list[str], value: Any, limit: int, where: str) -> None:
    if not isinstance(value, str):
        errors.append(f"must be a string [json-pointer:{where}]")
    elif len(value) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{where}]")


def text_chars(node: Any) -> int:
    """All the text in some blocks: every `text` string, added up."""
    if isinstance(node, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else text_chars(v) for k, v in node.items())
    if isinstance(node, list):
        return sum(text_chars(item) for item in node)
    return 0


def with_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy in which every block has a block_id and every interactive element an action_id, as Slack does."""
    blocks = copy.deepcopy(blocks)
    for block in blocks:
        block.setdefault("block_id", _random_id())
        elements = block.get("elements", []) if block["type"] == "actions" else [block.get("accessory")]
        for element in elements:
            if isinstance(element, dict) and element.get("type") not in ("image", None):
                element.setdefault("action_id", _random_id())
    return blocks


def _random_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(5))


def error_messages(errors: Iterable[str]) -> dict[str, list[str]]:
    return {"messages": [f"[ERROR] {e}" for e in errors]}


def json_arg(args: dict[str, Any], key: str) -> Any:
    """A structured argument: as given in a JSON body, or decoded from its JSON string in a form body."""
    value = args.get(key)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise SlackError(f"invalid_{key}_format" if key == "blocks" else "invalid_arguments") from None
