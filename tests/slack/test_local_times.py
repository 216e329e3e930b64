"""Every time shown in Slack mrkdwn is a `local_time` date token (#14 item 4); the scan that enforces it.

The Slack end-to-end scenarios (tests/slack/conftest.py `start_bot`) run `times_not_local` over everything the
bot sent the Slack stand-in, so each scenario checks its cards, replies, notices, App Home, alerts and status.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_helpers import bare_times

from bot.slack.blocks import local_time, utc
from bot.slack.blocks.mrkdwn import esc_keeping_mentions
from bot.slack.blocks.status import home_notice, status_blocks

AT = datetime(2026, 11, 28, 9, 22, tzinfo=UTC)


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_the_scan_finds_a_bare_time_in_mrkdwn_and_in_a_message_without_blocks():
    assert bare_times({"text": f"expired at {utc(AT)}"}) == ["2026-11-28 09:22 in 'expired at 2026-11-28 09:22 UTC'"]
    assert len(bare_times({"text": "-", "blocks": [section(f"Undone at {utc(AT)}")]})) == 1
    assert len(bare_times({"view": {"type": "home", "blocks": [section(f"at {utc(AT)}")]}})) == 1
    assert len(bare_times({"blocks": '[{"type": "context", "elements": [{"type": "mrkdwn", "text": '
                                     '"Updated 2026-11-28 09:22"}]}]'})) == 1


def test_the_scan_accepts_date_tokens_fallback_text_and_plain_text():
    assert bare_times({"text": f"at {local_time(AT)}"}) == []
    assert bare_times({"text": f"fallback at {utc(AT)}", "blocks": [
        section(f"at {local_time(AT)}"), {"type": "header", "text": {"type": "plain_text", "text": utc(AT)}}]}) == []


def test_an_escaped_date_token_is_a_bare_time():
    escaped = local_time(AT).replace("<", "&lt;").replace(">", "&gt;")
    assert len(bare_times({"text": f"at {escaped}"})) == 1


def test_the_bots_own_answer_keeps_its_date_tokens_and_mentions_in_app_home():
    answer = f"Already decided: this step is approved by <@U0APPROVE> ({local_time(AT)}). <b>"
    assert esc_keeping_mentions(answer) == (f"Already decided: this step is approved by <@U0APPROVE> "
                                            f"({local_time(AT)}). &lt;b&gt;")
    assert bare_times({"view": {"type": "home", "blocks": home_notice("Approve", answer, AT)}}) == []


def test_the_status_says_when_the_last_readiness_report_ran_in_the_readers_zone():
    basic = {"count": 0, "total": 0, "targets": [], "text": "", "readiness_basic": 4,
             "readiness": {"at": AT, "days": 30, "read": True, "basic_in_use": 4, "unknown": 0}}
    card = status_blocks([], [], now=AT + timedelta(hours=1), basic_auth=basic)
    text = str(card["blocks"])
    assert f"The last readiness report ({local_time(AT)}, 30 days) counted 4 account(s)" in text
    assert bare_times(card) == []

