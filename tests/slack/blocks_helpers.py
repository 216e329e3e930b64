"""Views built from the JSON fixture, and a validator for Slack's documented Block Kit limits."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack import ids
from bot.workflow.model import ChangeRequest, RequestState, RequestStep, RequestView, StepState

FIXTURES = Path(__file__).parent / "fixtures"
RAW = json.loads((FIXTURES / "example_view.json").read_text())
STATES = tuple(StepState)
_TIMES = ("created_at", "expires_at", "closed_at", "decided_at", "applied_at", "updated_at")
CREATED = datetime.fromisoformat(RAW["request"]["created_at"])
NOW = CREATED + timedelta(minutes=10)  # before the fixture's expiry (CREATED + 60 min)
LATE = CREATED + timedelta(minutes=61)  # after it


def _parse(data: dict[str, Any]) -> dict[str, Any]:
    return {k: datetime.fromisoformat(v) if k in _TIMES and v else v for k, v in data.items()}


def example_view() -> RequestView:
    """The fixture as the workflow hands it over: step 1 verified, step 2 pending."""
    raw = copy.deepcopy(RAW)
    request = _parse(raw["request"]) | {"state": RequestState(raw["request"]["state"])}
    return RequestView(ChangeRequest(**request),
                       tuple(RequestStep(**_parse(s) | {"state": StepState(s["state"])}) for s in raw["steps"]))


def with_states(*states: StepState, plan: dict[str, Any] | None = None, **request: Any) -> RequestView:
    """The fixture's request with one step per state (alternating the fixture's two steps), ids 1, 2, ..."""
    base = example_view()
    steps = []
    for n, state in enumerate(states):
        template = base.steps[n % 2]
        decided = state not in ("pending", "expired")
        applied = state in ("applied", "verified", "revert_pending", "reverting", "reverted")
        undo = state in ("revert_pending", "reverting", "reverted")
        proposed = template.proposed
        steps.append(dataclasses.replace(
            template, id=n + 1, position=n, state=StepState(state), updated_at=CREATED + timedelta(minutes=5),
            undo_requested_by="U0REQUEST" if undo else None,
            undo_requested_at=CREATED + timedelta(minutes=4) if undo else None,
            undo_decided_by="U0OTHER" if state in ("reverting", "reverted") else None,
            undo_decided_at=CREATED + timedelta(minutes=4, seconds=30) if state in ("reverting", "reverted") else None,
            decided_by="U0APPROVE" if decided else None, decided_at=CREATED + timedelta(minutes=2) if decided else None,
            applied_at=CREATED + timedelta(minutes=3) if applied else None,
            before=proposed["current"] if applied else None, after=proposed["proposed"] if applied else None,
            error="Exchange said: boom" if state == "failed" else None))
    diagnosis = copy.deepcopy(base.request.diagnosis)
    if plan is not None:
        diagnosis["plan"] = plan
    return RequestView(dataclasses.replace(base.request, diagnosis=diagnosis, **request), tuple(steps))


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for block in blocks:
        elements = block.get("elements", []) if block["type"] == "actions" else [block.get("accessory") or {}]
        found += [dict(e, block_id=block.get("block_id")) for e in elements if e.get("type") == "button"]
    return found


def clicks(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(b["action_id"], b["value"]) for b in buttons(blocks)]


def texts(node: Any) -> list[str]:
    """Every text string in the blocks (text objects, fallbacks)."""
    if isinstance(node, dict):
        return [t for k, v in node.items() for t in ([v] if k == "text" and isinstance(v, str) else texts(v))]
    if isinstance(node, list):
        return [t for item in node for t in texts(item)]
    return []


def mrkdwn(node: Any) -> list[str]:
    """The mrkdwn texts only: what Slack formats (plain_text shows `<script>` literally, harmlessly)."""
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for v in node.values() for t in mrkdwn(v)]
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn(item)]
    return []


def joined(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(texts(blocks))


def at(utc: str) -> str:
    """The date token the cards carry for the UTC time `utc` ("2026-11-28 08:22[:52]"), built here independently;
    its fallback text shows the minutes only."""
    moment = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    return f"<!date^{int(moment.timestamp())}^{{time}} {{date_short_pretty}}|{utc[:16]} UTC>"


# The validator ---------------------------------------------------------------------------------------
_ALLOWED_TOKEN = re.compile(r"<(@[UW][A-Z0-9]+|#C[A-Z0-9]+(\|[^<>]*)?|https?://[^<>|\s]+(\|[^<>]+)?"
                            r"|!date\^\d+\^[^<>|^]+\|\d{4}-\d\d-\d\d \d\d:\d\d UTC)>")
_ENTITY = re.compile(r"&(?!(amp|lt|gt);)")


def _text_object(obj: Any, limit: int, *, plain_only: bool = False) -> None:
    assert isinstance(obj, dict) and obj["type"] in (("plain_text",) if plain_only else ("plain_text", "mrkdwn"))
    assert isinstance(obj["text"], str) and len(obj["text"].strip()) > 0 and len(obj["text"]) <= limit, obj
    if obj["type"] == "mrkdwn":
        _mrkdwn(obj["text"])
    else:
        assert "<!date" not in obj["text"], f"a date token in plain text: {obj['text']!r}"


def _mrkdwn(text: str) -> None:
    """Only tokens the bot means to create: user mentions, channels and links; `&` only as an entity."""
    leftover = _ALLOWED_TOKEN.sub("", text)
    assert "<" not in leftover and ">" not in leftover, f"unescaped < or > in {text!r}"
    assert not _ENTITY.search(text), f"bare & in {text!r}"


def _button(element: dict[str, Any]) -> None:
    assert element["type"] == "button"
    _text_object(element["text"], 75, plain_only=True)
    assert element["action_id"] in ids.ACTIONS and len(element["action_id"]) <= 255
    assert isinstance(element["value"], str) and 0 < len(element["value"]) <= 2000
    assert element.get("style") in (None, "primary", "danger")
    if "confirm" in element:
        dialog = element["confirm"]
        _text_object(dialog["title"], 100, plain_only=True)
        _text_object(dialog["text"], 300)
        _text_object(dialog["confirm"], 30, plain_only=True)
        _text_object(dialog["deny"], 30, plain_only=True)
        assert dialog.get("style") in (None, "primary", "danger")


def validate(payload: dict[str, Any], *, view: bool = False) -> None:
    """Assert every Block Kit limit Slack documents, on a message (text + blocks) or a home view."""
    blocks = payload["blocks"]
    assert 0 < len(blocks) <= (100 if view else 50)
    if view:
        assert payload["type"] == "home"
    else:
        assert 0 < len(payload["text"]) <= 40_000
        _mrkdwn(payload["text"])
        assert sum(map(len, texts(blocks))) <= 12_000, "msg_blocks_too_long"
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids)) and all(0 < len(i) <= 255 for i in block_ids)
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            _text_object(block["text"], 150, plain_only=True)
        elif kind == "section":
            _text_object(block["text"], 3000)
            assert len(block.get("fields", [])) <= 10
            for field in block.get("fields", []):
                _text_object(field, 2000)
            if "accessory" in block:
                _button(block["accessory"])
        elif kind == "context":
            assert 0 < len(block["elements"]) <= 10
            for element in block["elements"]:
                _text_object(element, 3000)
        elif kind == "actions":
            assert 0 < len(block["elements"]) <= 25
            action_ids = [e["action_id"] for e in block["elements"]]
            assert len(action_ids) == len(set(action_ids))
            for element in block["elements"]:
                _button(element)
        else:
            assert kind == "divider" and set(block) <= {"type", "block_id"}
        Block.parse(block).validate_json()  # slack_sdk's own checks as a second opinion
