"""Times in mrkdwn: Slack's date token in each reader's time zone, with a UTC fallback text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from blocks_helpers import at, example_view, mrkdwn, validate

from bot.slack.blocks import local_time, md, plan_card, undated, utc
from bot.slack.blocks.mrkdwn import clip
from bot.slack.text import plain

MOMENT = datetime(2026, 12, 2, 11, 8, 30, tzinfo=UTC)


def test_a_time_is_a_date_token_with_a_utc_fallback():
    assert local_time(MOMENT) == "<!date^1796209710^{time} {date_short_pretty}|2026-12-02 11:08 UTC>"
    assert local_time(MOMENT) == at("2026-12-02 11:08:30")
    assert local_time(None) == "unknown time"


def test_another_offset_is_the_same_instant_and_the_fallback_is_in_utc():
    berlin = MOMENT.astimezone(timezone(timedelta(hours=1)))
    assert local_time(berlin) == local_time(MOMENT)
    assert utc(berlin) == "2026-12-02 11:08 UTC"


def test_the_token_is_the_only_markup_and_user_text_cannot_forge_one():
    forged = md("<!date^0^{time}|now> <!channel>", 200)
    assert "<" not in forged and ">" not in forged
    validate({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                    "text": f"at {local_time(MOMENT)} {forged}"}}]})


def test_cutting_never_splits_a_token():
    text = "x" * 30 + local_time(MOMENT)
    for limit in range(31, len(text)):
        cut = clip(text, limit)
        assert "<" not in cut and len(cut) <= limit


def test_undated_shows_the_fallback_and_the_console_shows_it_too():
    text = f"Applied at {local_time(MOMENT)} by <@U0APPROVE>"
    assert undated(text) == "Applied at 2026-12-02 11:08 UTC by <@U0APPROVE>"
    assert plain(text) == "Applied at 2026-12-02 11:08 UTC by @U0APPROVE"


def test_a_plan_cards_times_are_tokens_and_its_plain_text_has_none():
    card = plan_card(example_view(), now=datetime.fromisoformat("2026-11-28 08:30:00+00:00"))
    validate(card)
    assert at("2026-11-28 09:22:52") in "\n".join(mrkdwn(card["blocks"]))
    assert "<!date" not in card["text"]

