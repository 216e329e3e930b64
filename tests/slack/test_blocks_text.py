"""The console rendering: blocks as readable text, buttons numbered in order, mrkdwn turned into plain text."""

from __future__ import annotations

import pytest
from blocks_helpers import NOW, example_view, with_states

from bot.slack import ids
from bot.slack.blocks import explain_blocks, home_view, plan_card, status_blocks
from bot.slack.text import Button, plain, render


def test_the_example_card_reads_as_text_with_numbered_buttons():
    text, buttons = render(plan_card(example_view(), now=NOW)["blocks"])
    lines = text.splitlines()
    assert lines[:2] == ["SMTP AUTH plan for erp@contoso.com", "=" * 34]
    assert "1. SMTP AUTH for this mailbox: disabled → enabled" in lines
    assert ("✅ Applied and verified by the bot at 2026-11-28 08:22 UTC after approval by @U0APPROVE at 2026-11-28 08:22 UTC: "
            "disabled → enabled") in lines
    assert lines[lines.index("2. Legacy per-user MFA: enforced → disabled") + 3] == "[2 Approve] [3 Deny]"
    assert text.index("[1 Undo]") < text.index("[2 Approve] [3 Deny]")
    assert "⚠️ Impact: This user only" in text and "-" * 60 in lines
    assert lines[-1].startswith("[CR-49F7C2 · requested by @U0REQUEST · Approve before 2026-11-28 09:22 UTC | Why OAuth?")
    assert "*" not in text and "<@" not in text
    assert [(b.number, b.text, b.action_id, b.value, b.block_id) for b in buttons] == [
        (1, "Undo", ids.ACTION_UNDO, "1", "step:1"),
        (2, "Approve", ids.ACTION_APPROVE, "2", "step:2"),
        (3, "Deny", ids.ACTION_DENY, "2", "step:2"),
    ]
    assert buttons[1].confirm.startswith("Legacy per-user MFA: enforced → disabled. Impact: This user only")
    assert buttons[1].confirm.endswith("See the card for the full impact.")
    assert buttons[2].confirm is None


def test_buttons_are_numbered_across_blocks_including_approve_all():
    _, buttons = render(plan_card(with_states("pending", "failed", "pending"), now=NOW)["blocks"])
    assert [(b.number, b.action_id, b.value) for b in buttons] == [
        (1, ids.ACTION_APPROVE, "1"), (2, ids.ACTION_DENY, "1"), (3, ids.ACTION_RETRY, "2"),
        (4, ids.ACTION_APPROVE, "3"), (5, ids.ACTION_DENY, "3"), (6, ids.ACTION_APPROVE_ALL, "CR-49F7C2")]


@pytest.mark.parametrize(("mrkdwn", "text"), [
    ("*bold* and _italic_ and ~gone~", "bold and italic and gone"),
    ("mailbox_smtp_auth and 2*3*4", "mailbox_smtp_auth and 2*3*4"),
    ("by <@U0APPROVE> in <#C0OPS|ops>", "by @U0APPROVE in #ops"),
    ("<https://aka.ms/smtp_auth_disabled|Microsoft docs>", "Microsoft docs (https://aka.ms/smtp_auth_disabled)"),
    ("<https://example.com>", "https://example.com"),
    ("<!here> <!subteam^S0ADMINS|@admins>", "@here @admins"),
    ("&lt;script&gt; &amp;lt;", "<script> &lt;"),
    (":warning: :x: :unknown_code: 08:22:30", "⚠️ ❌ :unknown_code: 08:22:30"),
])
def test_mrkdwn_becomes_plain_text(mrkdwn, text):
    assert plain(mrkdwn) == text


def test_fields_accessories_plain_text_and_unknown_blocks():
    blocks = [
        {"type": "section", "text": {"type": "plain_text", "text": "*as is*"},
         "fields": [{"type": "mrkdwn", "text": "*a*"}, {"type": "mrkdwn", "text": "b"}],
         "accessory": {"type": "button", "action_id": "x", "value": "7", "text": {"type": "plain_text", "text": "Go"}},
         "block_id": "step:7"},
        {"type": "rich_text", "elements": []},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "one"}, {"type": "mrkdwn", "text": "two"}]},
    ]
    text, buttons = render(blocks)
    assert text == "*as is*\na\nb\n[1 Go]\n[one | two]"
    assert buttons == [Button(1, "Go", "x", "7", "step:7", None)]


def test_every_builder_renders():
    view = example_view()
    payloads = [explain_blocks({"cause": "x", "title": "T", "reply": "r", "explanation": "e", "advice": "a",
                                "steps": ["mailbox_smtp_auth"], "checks": [], "transient": True, "docs": None}),
                status_blocks([view], [], now=NOW),
                home_view(viewer="U0APPROVE", pending=[view], recent=[view], probes=[], is_approver=True, now=NOW)]
    for payload in payloads:
        text, _ = render(payload["blocks"])
        assert text and "<@" not in text and "&amp;" not in text
